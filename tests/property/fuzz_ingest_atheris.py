"""Coverage-guided fuzzing of the ingest stage with atheris (libFuzzer for Python).

    python tests/property/fuzz_ingest_atheris.py -runs=200000          # from the repo root
    python tests/property/fuzz_ingest_atheris.py -max_total_time=600 corpus/

Every input must end as a valid event or a dead letter, with no raw email or phone in what
goes on (the oracle of tests/property/hostile.py); an assertion or any other exception is a
crash, saved by libFuzzer as crash-<sha1> (replay it: pass the file as the only argument).
Without a corpus directory it starts from the seeds below, and it always mutates with a
dictionary of JSON and Parcours tokens. tests/property/test_ingest_atheris.py runs it briefly.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere

with atheris.instrument_imports(include=["pipeline.ingest"]):
    from pipeline.ingest.logic import IngestConfig, ingest_one

from tests.property.hostile import IDENTIFY, NATIVE, SEGMENT, check_outcome, js, nested  # noqa: E402

CFG = IngestConfig.build(b"fuzz-salt")
NOW_MS = 1_793_704_522_120  # 2026-11-03T11:15:22.120Z: the seeds' timestamps are valid

SEEDS = [js(NATIVE), js(SEGMENT), js(IDENTIFY), nested(1100, "array"),
         js({**NATIVE, "properties": {"revenue": "NaN", "jane@example.com": ["06 12 34 56 78"]}}),
         js({**SEGMENT, "type": "page", "name": "Home", "context": {"traits": ["x"], "channel": "app"}})]
TOKENS = ['"event_id"', '"event_type"', '"occurred_at"', '"channel"', '"identifiers"', '"properties"',
          '"context"', '"touchpoint"', '"type"', '"track"', '"identify"', '"alias"', '"messageId"',
          '"anonymousId"', '"userId"', '"traits"', '"timestamp"', '"email"', '"phone"', '"revenue"',
          '"csat"', '"nps"', "NaN", "Infinity", "1e400", "18446744073709551616", "-0", "null", "true",
          "\\ud800", "\\u0000", '"2026-11-03T10:15:22Z"', '"1969-12-31T23:59:59Z"', '"jane@example.com"',
          '"06 12 34 56 78"', '"+33612345678"', "\xef\xbb\xbf"]


def test_one_input(data: bytes) -> None:
    check_outcome(data, ingest_one(data, CFG, NOW_MS), NOW_MS)


def libfuzzer_args(argv: list[str], workdir: Path) -> list[str]:
    """argv plus the seed corpus (when no directory or file is given) and the dictionary."""
    args = list(argv)
    if not any(not a.startswith("-") for a in args[1:]):
        corpus = workdir / "corpus"
        corpus.mkdir()
        for i, seed in enumerate(SEEDS):
            (corpus / f"seed-{i}").write_bytes(seed)
        args.append(str(corpus))
    if not any(a.startswith("-dict=") for a in args):
        tokens = workdir / "json.dict"
        tokens.write_text("".join(f"{_quote(t)}\n" for t in TOKENS))
        args.append(f"-dict={tokens}")
    if not any(a.startswith("-max_len=") for a in args):
        args.append("-max_len=70000")  # above MAX_BYTES, so that the size check is reached
    return args


def _quote(token: str) -> str:
    """A libFuzzer dictionary entry: printable ASCII as is, anything else (and '\\', '"') as \\xNN."""
    return '"' + "".join(c if " " <= c <= "~" and c not in '\\"' else f"\\x{ord(c):02X}" for c in token) + '"'


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="parcours-fuzz-") as workdir:
        atheris.Setup(libfuzzer_args(sys.argv, Path(workdir)), test_one_input)
        atheris.Fuzz()


if __name__ == "__main__":
    main()
