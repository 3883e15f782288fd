"""A short, deterministic coverage-guided run of the atheris harness
(tests/property/fuzz_ingest_atheris.py): no input may crash ingest_one or leak PII.

atheris is a libFuzzer binding shipped as a wheel for Linux x86_64 only (the test extra installs
it there); elsewhere this test is skipped. Longer campaigns: run the harness by hand.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

HARNESS = ROOT / "tests" / "property" / "fuzz_ingest_atheris.py"
#: Inputs per run; about 10 000 a second on the 2-core development machine.
RUNS = int(os.environ.get("PARCOURS_FUZZ_RUNS", "30000"))

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None,
    reason="atheris is not installed: it has wheels for Linux x86_64 only (`pip install atheris` elsewhere "
           "needs clang and libFuzzer)",
)


def test_a_bounded_atheris_run_finds_no_crash(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(HARNESS), f"-runs={RUNS}", "-seed=1", f"-artifact_prefix={tmp_path}/",
         "-timeout=30", "-rss_limit_mb=2048", "-print_final_stats=1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.name.split("-")[0] in ("crash", "timeout", "oom"))
    assert done.returncode == 0 and not crashes, (crashes, done.stderr[-4000:])
    assert f"Done {RUNS} runs" in done.stderr, done.stderr[-2000:]
