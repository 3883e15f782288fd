"""Helper of test_pii_scan.py, run in its own process (chDB allows one engine per process, and
the embedded broker is memory-only: its topics die with the process that started it).

Replays NDJSON files through the in-process embedded stack, then, before stopping it, dumps
what a leak could hide in: every message of every topic on the broker (key, value and header
values) and every row of every ClickHouse table of the database `parcours` (all columns cast
to String). Logs go to stderr, at the level of PARCOURS_LOG_LEVEL.

  python -m tests.integration.pii_scan_run OUT_DIR FILE.ndjson...

OUT_DIR/topics/<topic>.bin and OUT_DIR/clickhouse/<table>.tsv; OUT_DIR/summary.json counts them.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from clickhouse_connect.driver.client import Client

from jobs.replay import replay
from pipeline import logs
from pipeline.embedded.stack import Stack
from pipeline.settings import Settings
from pipeline.sink.clickhouse import query_rows


async def dump_topics(bootstrap: str, out: Path) -> dict[str, int]:
    """Every message of every topic, from the first offset to the current end."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    counts: dict[str, int] = {}
    try:
        # All partitions first: once some are assigned, the metadata cache keeps only their topics.
        topics = {topic: [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
                  for topic in sorted(await consumer.topics())}
        for topic, parts in topics.items():
            counts[topic] = await _dump_topic(consumer, parts, out / f"{topic}.bin")
    finally:
        await consumer.stop()
    return counts


async def _dump_topic(consumer: AIOKafkaConsumer, parts: list[TopicPartition], path: Path) -> int:
    consumer.assign(parts)
    await consumer.seek_to_beginning(*parts)
    end = await consumer.end_offsets(parts)
    left = {tp for tp in parts if end[tp] > 0}
    count = 0
    with path.open("wb") as sink:
        while left:
            for tp, records in (await consumer.getmany(*left, timeout_ms=1000)).items():
                for record in records:
                    headers = b"\n".join(value for _, value in record.headers or ())
                    sink.write(b"\n".join([record.key or b"", record.value or b"", headers]) + b"\n")
                    count += 1
                if await consumer.position(tp) >= end[tp]:
                    left.discard(tp)
    return count


def dump_clickhouse(client: Client, out: Path) -> dict[str, int]:
    """Every row of every table (views excluded: they read the tables), columns as strings."""
    tables = query_rows(client, "SELECT name FROM system.tables WHERE database = 'parcours' "
                                "AND engine NOT LIKE '%View' ORDER BY name")
    counts = {}
    for (table,) in tables:
        rows = query_rows(client, f"SELECT * APPLY(toString) FROM parcours.`{table}`")
        (out / f"{table}.tsv").write_text("".join("\t".join(v or "" for v in row) + "\n" for row in rows))
        counts[table] = len(rows)
    return counts


async def main(out: Path, files: list[str]) -> None:
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    (out / "topics").mkdir(parents=True)
    (out / "clickhouse").mkdir()
    async with Stack(settings) as stack:
        result = await replay(stack, files, progress=False)
        print(result.render(), file=sys.stderr)
        assert stack.clickhouse is not None
        summary = {"topics": await dump_topics(stack.bootstrap, out / "topics"),
                   "tables": dump_clickhouse(stack.clickhouse, out / "clickhouse"),
                   "lines": result.lines, "rejected": result.rejected}
    (out / "summary.json").write_bytes(orjson.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2:]))
