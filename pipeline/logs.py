"""Logging set-up: one format for every process; the chatty client libraries are quietened."""

from __future__ import annotations

import logging
import sys

NOISY = ("aiokafka", "faust", "mode", "kafka", "urllib3", "clickhouse_connect", "chdb")


def configure(level: str = "INFO") -> None:
    """`level` applies to Parcours' own loggers; libraries log only errors (or all at DEBUG=ALL)."""
    logging.basicConfig(
        level=getattr(logging, "DEBUG" if level == "ALL" else level, logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    for name in NOISY:
        logging.getLogger(name).setLevel(logging.DEBUG if level == "ALL" else logging.ERROR)
