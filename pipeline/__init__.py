"""Parcours: raw omnichannel events -> persons, sessions and journey facts in ClickHouse.

Data flow (each a sub-package, in this order): ingest -> identity -> sessions -> facts -> sink.
The composition of the stages lives in `pipeline.app`.
"""

from pathlib import Path

#: Repository root: schemas/ and infra/ are data the code reads from here.
ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
INFRA = ROOT / "infra"
