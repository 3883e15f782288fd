"""`parcours forget` knows every table: each table the migrations create is either cleaned by
the erasure plan (jobs/forget.py STEPS and the KPI rollup) or listed as holding no personal
data, with the reason. A migration that adds a table must say which."""

from __future__ import annotations

import re

from jobs.forget import NO_PERSONAL_DATA, ROLLUP, STEPS
from pipeline.sink.migrations import MIGRATIONS_DIR


def test_every_table_is_erased_or_declared_free_of_personal_data() -> None:
    text = "\n".join(p.read_text() for p in sorted(MIGRATIONS_DIR.glob("*.sql")))
    tables = set(re.findall(r"CREATE TABLE IF NOT EXISTS parcours\.(\w+)", text)) | {"schema_migrations"}
    erased = {step.table for step in STEPS} | {ROLLUP}
    assert not erased & set(NO_PERSONAL_DATA)
    assert tables - erased - set(NO_PERSONAL_DATA) == set(), "classify the new table in jobs/forget.py"
    assert erased <= tables
