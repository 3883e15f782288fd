"""`parcours`: the command line (see README and the contract for each command)."""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import re
import signal
import sys
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from clickhouse_connect.driver.exceptions import ClickHouseError

from pipeline import event_loop, logs
from pipeline.errors import ParcoursError, Terminal, classify_clickhouse
from pipeline.settings import Settings, redact_url

T = TypeVar("T")

#: A trailing `FORMAT name` clause: `parcours sql` then prints the engine's output as-is.
TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(?!(?:ASC|DESC)\b)\w+\s*;?\s*$", re.IGNORECASE)
#: SQL as ClickHouse reads it: quoted strings and names, comments (--, #, /* */), `;`, the rest.
_SQL_TOKENS = re.compile(r"""'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|`(?:[^`\\]|\\.|``)*`"""
                         r"|(?P<comment>--[^\n]*|#[^\n]*|/\*.*?\*/)|(?P<end>;)|[^'\"`;#/-]+|.", re.DOTALL)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "doctor":  # reports a broken configuration rather than stopping on it
        logs.configure("WARNING")
        return int(args.run(None, args))
    try:
        settings = Settings.from_env()
        logs.configure(settings.log_level)
        require_embedded_clickhouse_free(settings)  # else chDB prints raw lock errors, no hint
        return int(args.run(settings, args) or 0)
    except ParcoursError as error:
        print(f"parcours: {error}", file=sys.stderr)
        return 2
    except ClickHouseError as exc:  # driver errors are classified in one place
        print(f"parcours: {classify_clickhouse(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("parcours: interrupted", file=sys.stderr)
        return 130


EPILOG = ("Configuration: PARCOURS_* environment variables or a .env file (README, Configuration); "
          "`parcours doctor` checks them. `parcours COMMAND --help` describes each command.")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="parcours", description=__doc__, epilog=EPILOG)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = _command(sub, "demo", "simulate omnichannel journeys, run them through the full pipeline on the "
                                 "embedded stack, print a journey summary and write an HTML report", cmd_demo)
    demo.add_argument("--persons", type=int, default=2000, metavar="N", help="persons to simulate (default: 2000)")
    demo.add_argument("--seed", type=int, default=7, metavar="S",
                      help="random seed: the same seed simulates the same journeys (default: 7)")
    demo.add_argument("--report", type=Path, default=None, metavar="PATH",
                      help="HTML report path (default: DATA_DIR/report.html)")
    replay = _command(sub, "replay", "feed NDJSON event files through the real pipeline (Kafka -> agents -> "
                                     "ClickHouse), wait until everything is written, print a summary", cmd_replay)
    replay.add_argument("files", nargs="+", metavar="FILE",
                        help="NDJSON file, one event per line ('-' = stdin); malformed lines become dead letters")
    _command(sub, "up", "run the embedded stack in the foreground until Ctrl-C (broker, workers, "
                        "ClickHouse engine, HTTP API on PARCOURS_HTTP_PORT)", cmd_up)
    _command(sub, "worker", "run one production worker against the configured Kafka and ClickHouse "
                            "(what docker-compose starts, scaled to N)", cmd_worker)
    _command(sub, "migrate", "apply pending ClickHouse migrations (idempotent)", cmd_migrate, sync=False)
    _command(sub, "doctor", "check configuration, data dir, HTTP port, Kafka, topics and ClickHouse; "
                            "say what to fix (exit 1 when a check fails)", cmd_doctor, sync=False)
    sql = _command(sub, "sql", "run a query against the configured ClickHouse and print a table", cmd_sql,
                   sync=False)
    sql.add_argument("query", metavar="QUERY",
                     help="the SQL, quoted; a trailing FORMAT clause (e.g. FORMAT JSON) prints the engine's "
                          "output as-is instead of a table")
    sql.add_argument("--json", action="store_true", help="one JSON object per row")
    funnel = _command(sub, "funnel", "persons going through steps in order within a window", cmd_funnel,
                      sync=False)
    funnel.add_argument("steps", nargs="*", metavar="STEP", help="event type, or touchpoint:NAME")
    funnel.add_argument("--window", default="7d", help="max time from first to last step (default: 7d)")
    funnel.add_argument("--by-channel", action="store_true", help="also per first-step channel")
    _command(sub, "attribute", "recompute Markov attribution, print credits by model and channel", cmd_attribute,
             sync=False)
    identity = sub.add_parser("identity", help="explain stitching", description="explain stitching")
    what = identity.add_subparsers(dest="what", required=True, metavar="WHAT")
    show = _command(what, "show", "a person, its identifiers and the events that linked them", cmd_identity_show,
                    sync=False)
    show.add_argument("kind", help="identifier kind: email, phone, user_id, device_id, ...")
    show.add_argument("value", help="its value (raw email/phone are hashed before the lookup)")
    _command(what, "stats", "persons, merges, refusals, shared identifiers", cmd_identity_stats, sync=False)
    report = _command(sub, "report", "journey report: key numbers, and one self-contained HTML file", cmd_report,
                      sync=False)
    report.add_argument("--out", "--output", "-o", dest="output", type=Path, default=None, metavar="PATH",
                        help="HTML path (default: DATA_DIR/report.html)")
    reses = _command(sub, "resessionize", "recompute the sessions of merged persons and of sessions that "
                                          "break the gap rule (batch)", cmd_resessionize, sync=False)
    reses.add_argument("--all", action="store_true", help="every person, not only merged ones")
    forget = _command(sub, "forget", "erase a person (GDPR): its facts, identity state and profile; exit 1 when "
                                     "nothing was erased", cmd_forget, sync=False)
    forget.add_argument("kind", help="identifier kind: email, phone, user_id, device_id, ...")
    forget.add_argument("value", help="its value (raw email/phone are hashed before the lookup)")
    forget.add_argument("--request-id", default=None, help="id for the audit row, e.g. your ticket (default: random)")
    forget.add_argument("--wait", type=float, default=None, metavar="SECONDS",
                        help="with Kafka: how long to wait for the pipeline to write what it holds before "
                             "erasing (default: 120); past it, nothing is erased and the command exits 2")
    return top


def _command(sub: Any, name: str, text: str, run: Callable[..., Any], sync: bool = True) -> argparse.ArgumentParser:
    """A subcommand whose one-line `text` shows both in `parcours --help` and in its own --help."""
    command: argparse.ArgumentParser = sub.add_parser(name, help=text, description=text[:1].upper() + text[1:] + ".")
    command.set_defaults(run=_sync(run) if sync else run)
    return command


def _sync(command: Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]]) -> Callable[..., int]:
    def run(settings: Settings, args: argparse.Namespace) -> int:
        return event_loop.run(command(settings, args), settings.event_loop)
    return run


def require_embedded_clickhouse_free(settings: Settings) -> None:
    """chDB allows one process per data directory, and says so only on stderr ("Cannot lock
    file .../status") before a generic error: look at the engine's lock first, and say who
    holds it and what to do."""
    if not settings.embedded_clickhouse:
        return
    path = Path(settings.clickhouse_url.removeprefix("chdb://"))
    holder = _lock_holder(path / "status")
    if holder is None or holder == str(os.getpid()):
        return
    raise Terminal(f"the embedded ClickHouse in {path} is held by another parcours process"
                   f"{f' (pid {holder})' if holder else ''}: chDB allows one process per data directory",
                   hint="stop that process (e.g. Ctrl-C on `parcours up`) and run this again, or point both at a "
                        "ClickHouse server (PARCOURS_CLICKHOUSE_URL=http://...), which any number of processes "
                        "can query")


def _lock_holder(status: Path) -> str | None:
    """None when nobody holds the engine's status file; else the holder's pid ('' if unknown)."""
    try:
        fd = os.open(status, os.O_RDONLY)
    except OSError:
        return None  # no engine was ever opened there
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # the engine holds LOCK_EX while open
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    except BlockingIOError:
        match = re.search(rb"PID: (\d+)", os.read(fd, 256))
        return match.group(1).decode() if match else ""
    finally:
        os.close(fd)


async def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.replay import replay
    from jobs.replay_input import require_inputs
    from pipeline.embedded.stack import Stack

    require_inputs(args.files)  # before the stack starts (~8 s)
    async with Stack(settings) as stack:
        result = await replay(stack, args.files)
    print(result.render())
    return 0


async def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from jobs import report as journey_report
    from jobs.replay import replay
    from jobs.simulate import simulate, write_ndjson
    from jobs.summary import render_terminal
    from pipeline.embedded.stack import Stack

    print(f"simulating {args.persons:,} persons ...", file=sys.stderr)
    sim = simulate(persons=args.persons, seed=args.seed)
    path = settings.data_dir / f"demo-{args.persons}-{args.seed}.ndjson"
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    write_ndjson(sim, path)
    async with Stack(settings) as stack:
        result = await replay(stack, [str(path)])
        assert stack.clickhouse is not None
        data = journey_report.load(stack.clickhouse)
    print(result.render())
    print()
    print(render_terminal(data.summary))
    print()
    print(journey_report.render_terminal(data))
    report = journey_report.write(data, args.report or settings.data_dir / "report.html")
    print(f"\nHTML report: {report}")
    return 0


async def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.embedded.stack import Stack

    async with Stack(settings, web_port=settings.http_port) as stack:
        assert stack.pipeline is not None
        # alone on its own broker, it will own every partition (on a shared Kafka, others may)
        if settings.embedded_broker and not await stack.pipeline.until_serving():
            print("the worker has not been given its partitions after 60 s: profile lookups answer "
                  "503 until it is (see the log above)", file=sys.stderr)
        print(f"Parcours is up. Kafka: {stack.bootstrap}  HTTP: http://127.0.0.1:{settings.http_port}"
              f"  raw topic: {stack.pipeline.rt.topics.raw.name if stack.pipeline else ''}\n"
              "Ctrl-C to stop.", file=sys.stderr)
        if settings.embedded_broker:
            print("The embedded broker keeps everything in memory and slows to a stop after a few "
                  "minutes of steady input (README, Soak): for a long run, set PARCOURS_KAFKA_BOOTSTRAP "
                  "to a real Kafka.", file=sys.stderr)
        await _until_signalled(stack)
        if settings.embedded_broker and stack.pipeline.sink is not None:
            await _drain_before_stopping(stack)
    return 0


#: Seconds `parcours up` waits, once told to stop, for what its embedded broker holds.
STOP_DRAIN_S = 60.0


async def _drain_before_stopping(stack: Any) -> None:
    """The embedded broker keeps its topics in memory: events it acknowledged but the stages
    have not taken yet would go with it. So the collector closes (503: the SDKs keep and retry
    the events), and an end-of-input barrier is waited for, as a replay's is: everything before
    it reaches ClickHouse, open sessions included. A second Ctrl-C (or STOP_DRAIN_S) stops at once."""
    from jobs.replay import send_barrier, wait_for_barrier

    print("  the collector is closed (503); waiting for what the embedded broker holds to reach "
          f"ClickHouse (at most {STOP_DRAIN_S:.0f}s; Ctrl-C again to stop at once)", file=sys.stderr)
    stack.pipeline.rt.closing.set()
    barrier = f"stop-{uuid.uuid4().hex[:12]}"
    send_barrier(stack.pipeline.rt, barrier)
    drained = asyncio.ensure_future(asyncio.wait_for(wait_for_barrier(stack, barrier, 0, False), STOP_DRAIN_S))
    again = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, again.set)
    interrupted = asyncio.ensure_future(again.wait())
    await asyncio.wait([drained, interrupted], return_when=asyncio.FIRST_COMPLETED)
    interrupted.cancel()
    if not drained.done():
        drained.cancel()
        print("stopped without waiting: events the embedded broker held and the stages had not "
              "taken are lost with it", file=sys.stderr)
    elif (error := drained.exception()) is not None:
        print(f"stopped before everything was written ({type(error).__name__}: {error}): events the "
              "embedded broker held and the stages had not taken are lost with it", file=sys.stderr)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.embedded.stack import Stack
    from pipeline.errors import ConfigError

    if settings.embedded_broker:
        raise ConfigError("`parcours worker` needs PARCOURS_KAFKA_BOOTSTRAP",
                          hint="set it to your Kafka cluster, or use `parcours up` for the embedded stack")
    async with Stack(settings, web_port=settings.http_port) as stack:
        await _until_signalled(stack)
    return 0


def _dump_tasks() -> None:
    """`kill -USR1 <worker pid>`: where every stage is waiting, for a worker that looks stuck."""
    for task in asyncio.all_tasks():
        print(f"--- task {task.get_name()}", file=sys.stderr)
        task.print_stack(limit=12, file=sys.stderr)


async def _until_signalled(stack: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, _dump_tasks)
    while not stop.is_set():
        stack.pipeline.check()
        if stack.broker is not None:
            stack.broker.check()
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass
    print("stopping: flushing open sessions and pending rows ...", file=sys.stderr)


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.sink.clickhouse import connect
    from pipeline.sink.migrations import migrate

    applied = migrate(connect(settings), bi_password=settings.bi_password, bi_user=settings.bi_user)
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    print("schema up to date" if not applied else f"{len(applied)} migration(s) applied")
    return 0


def cmd_doctor(settings: Settings | None, args: argparse.Namespace) -> int:
    from pipeline import doctor

    checks = doctor.run()
    print(doctor.render(checks))
    return 1 if any(c.status == doctor.FAIL for c in checks) else 0


def cmd_sql(settings: Settings, args: argparse.Namespace) -> int:
    import orjson

    from pipeline.sink.clickhouse import connect

    require_one_statement(args.query)
    if TRAILING_FORMAT.search(args.query):
        if args.json:
            raise Terminal("--json and a FORMAT clause both choose the output format",
                           hint="drop --json to get the FORMAT's output as-is, or drop the FORMAT clause")
        sys.stdout.buffer.write(_query(connect(settings).raw_query, args.query))
        sys.stdout.flush()
        return 0
    result = _query(connect(settings).query, args.query)
    columns = list(result.column_names)
    if args.json:
        for row in result.result_rows:
            print(orjson.dumps(dict(zip(columns, row, strict=True)), default=json_value,
                               option=orjson.OPT_PASSTHROUGH_DATETIME).decode())
    else:
        print(format_table(columns, [list(r) for r in result.result_rows]))
    return 0


def count_statements(query: str) -> int:
    """Statements in `query`: `;` outside quotes and comments ends one; a trailing `;` and
    what holds only blanks and comments count for none."""
    count, pending = 0, False
    for token in _SQL_TOKENS.finditer(query):
        if token.group("end"):
            count, pending = count + pending, False
        elif not token.group("comment") and token.group().strip():
            pending = True
    return count + pending


def require_one_statement(query: str) -> None:
    """The client sends one statement per request: a second one would be a syntax error at
    best, and an empty query an IndexError."""
    count = count_statements(query)
    if count == 0:
        raise Terminal("empty query", hint='pass the SQL, quoted: parcours sql "SELECT count() FROM parcours.v_events"')
    if count > 1:
        raise Terminal(f"{count} statements: parcours sql runs one statement at a time",
                       hint="run each statement in its own `parcours sql` (a `;` at the end is fine)")


def _query(run: Callable[[str], T], query: str) -> T:
    """The sink retries what ClickHouse refuses; a query typed here is the user's to fix."""
    try:
        return run(query)
    except ClickHouseError as exc:
        error = classify_clickhouse(exc)
        if error.hint:  # known: unreachable, credentials, a missing table, a syntax error
            raise error from exc
        raise Terminal(f"ClickHouse could not run the query: {str(exc)[:400]}",
                       hint="fix the query and run it again (`parcours sql \"SHOW TABLES FROM parcours\"` "
                            "lists the tables and views, `DESCRIBE parcours.v_events` a view's columns)") from exc


def cmd_attribute(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.attribution import credit_by_channel, render, run_markov
    from pipeline.sink.clickhouse import connect

    client = connect(settings)
    result = run_markov(client)
    print(render(result, credit_by_channel(client)))
    return 0


def cmd_identity_show(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.identity import explain, render
    from pipeline.ingest.logic import IngestConfig, lookup_problem
    from pipeline.sink import pii_salt
    from pipeline.sink.clickhouse import connect

    cfg = IngestConfig.build(settings.pii_salt, settings.phone_country, settings.extra_identifier_kinds)
    problem = lookup_problem(args.kind, args.value, cfg)
    if problem is not None:  # it would only be "no identifier ... in ClickHouse"
        raise Terminal(problem[0], hint=problem[1])
    client = connect(settings)
    pii_salt.verify(client, settings.pii_salt, redact_url(settings.clickhouse_url))
    print(render(explain(client, cfg, args.kind, args.value)))
    return 0


def cmd_identity_stats(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.identity import stats
    from pipeline.sink.clickhouse import connect

    for name, value in stats(connect(settings)).items():
        print(f"{name.replace('_', ' '):<20} {value:>12,}")
    return 0


def cmd_report(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.report import load, render_terminal, write
    from pipeline.sink.clickhouse import connect

    data = load(connect(settings))
    print(render_terminal(data))
    path = write(data, args.output or settings.data_dir / "report.html")
    print(f"\nHTML report: {path}")
    return 0


def cmd_resessionize(settings: Settings, args: argparse.Namespace) -> int:
    from jobs import rollup
    from jobs.resessionize import run
    from pipeline.sink.clickhouse import connect

    client = connect(settings)
    result = run(client, settings.session_gap_s, everyone=args.all)
    rollup.restate(client, result.days)  # the KPI rollup's session counts follow the new cut
    print(f"re-sessionized {result.persons:,} persons ({result.events:,} events): "
          f"{result.sessions_before:,} sessions -> {result.sessions_after:,}; "
          f"KPI rollup restated for {len(result.days):,} days")
    return 0


def cmd_forget(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.drain import WAIT_S
    from jobs.forget import forget, render
    from pipeline.embedded.stack import open_clickhouse
    from pipeline.ingest.logic import IngestConfig
    from pipeline.topics import topics

    cfg = IngestConfig.build(settings.pii_salt, settings.phone_country, settings.extra_identifier_kinds)
    # Only with a Kafka cluster can a pipeline outlive a command (the embedded broker keeps
    # nothing): then forget first waits until what it holds is in ClickHouse (jobs/drain.py).
    result = forget(open_clickhouse(settings), cfg, args.kind, args.value, topics(),
                    bootstrap=settings.kafka_bootstrap or None, request_id=args.request_id,
                    replication=settings.kafka_replication,
                    wait_s=WAIT_S if args.wait is None else args.wait,
                    say=lambda line: print(f"forget: {line}", file=sys.stderr, flush=True))
    print(render(result))
    if result.status == "shared":
        print(f"parcours: this {args.kind} is shared by several customers; nothing was erased\n"
              "  hint: erase each customer by an identifier of their own (user_id, loyalty_id, ...)", file=sys.stderr)
    elif result.status == "not_found":
        print(f"parcours: no identifier {args.kind} with that value in ClickHouse; nothing was erased\n"
              "  hint: check the kind and the value (the request is recorded in parcours.erasure_audit)",
              file=sys.stderr)
    return 0 if result.status == "done" else 1


def cmd_funnel(settings: Settings, args: argparse.Namespace) -> int:
    from jobs.funnel import funnel, parse_steps, parse_window, render
    from pipeline.sink.clickhouse import connect

    steps, window_s = parse_steps(args.steps), parse_window(args.window)  # before connecting
    print(render(funnel(connect(settings), steps, window_s, by_channel=args.by_channel)))
    return 0


def json_value(value: Any) -> str:
    """What JSON has no type for: datetimes in ISO 8601 with milliseconds and their zone (naive
    ones are UTC: clickhouse-connect's default naive_utc mode), the rest as text."""
    if not isinstance(value, datetime):
        return value.isoformat() if isinstance(value, date) else str(value)
    moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    text = moment.isoformat(timespec="milliseconds" if moment.microsecond % 1000 == 0 else "microseconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def format_table(columns: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) for c in columns]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines + [f"({len(rows)} row{'s' if len(rows) != 1 else ''})"])


if __name__ == "__main__":
    sys.exit(main())
