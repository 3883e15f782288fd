"""`parcours doctor` checks, one bad configuration at a time (no broker, no ClickHouse server:
the servers are unreachable ports or a stub that answers like ClickHouse refusing a password)."""

from __future__ import annotations

import dataclasses
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline import doctor
from pipeline.doctor import FAIL, OK, WARN, Check
from pipeline.settings import Settings
from pipeline.topics import topics


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PARCOURS_DATA_DIR": str(tmp_path / "data"), "PARCOURS_PII_SALT": "a-long-enough-test-salt", **extra}


def settings(tmp_path: Path, **extra: str) -> Settings:
    return Settings.from_env(env(tmp_path, **extra), dotenv=tmp_path / "no.env")


def by_name(checks: list[Check], name: str) -> Check:
    (check,) = [c for c in checks if c.name == name]
    return check


def test_unparsable_settings_stop_the_other_checks(tmp_path: Path) -> None:
    checks = doctor.run(env(tmp_path, PARCOURS_HTTP_PORT="sixty"), dotenv=tmp_path / "no.env")
    assert [(c.name, c.status) for c in checks] == [("settings", FAIL)]
    assert "PARCOURS_HTTP_PORT" in checks[0].detail and checks[0].fix


def test_unknown_phone_country_is_a_failed_settings_check(tmp_path: Path) -> None:
    checks = doctor.run(env(tmp_path, PARCOURS_PHONE_COUNTRY="france"), dotenv=tmp_path / "no.env")
    assert [(c.name, c.status) for c in checks] == [("settings", FAIL)]
    assert "PARCOURS_PHONE_COUNTRY='france'" in checks[0].detail and "ISO 3166" in checks[0].fix


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_http_port_out_of_range_is_a_failed_settings_check(tmp_path: Path, port: str) -> None:
    checks = doctor.run(env(tmp_path, PARCOURS_HTTP_PORT=port), dotenv=tmp_path / "no.env")
    assert [(c.name, c.status) for c in checks] == [("settings", FAIL)]
    assert "between 1 and 65535" in checks[0].detail and checks[0].fix


def test_data_dir_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    s = dataclasses.replace(settings(tmp_path), data_dir=tmp_path / "file" / "data")
    check = doctor._data_dir(s)
    assert check.status == FAIL and "PARCOURS_DATA_DIR" in check.fix
    # the settings themselves cannot be built, whether the salt lives there or not
    for salt in ({}, {"PARCOURS_PII_SALT": "x" * 32}):
        checks = doctor.run({"PARCOURS_DATA_DIR": str(tmp_path / "file" / "data"), **salt}, dotenv=tmp_path / "no.env")
        assert [(c.name, c.status) for c in checks] == [("settings", FAIL)]
        assert "PARCOURS_DATA_DIR" in checks[0].detail and checks[0].fix == check.fix


def test_salt(tmp_path: Path) -> None:
    cluster = settings(tmp_path, PARCOURS_KAFKA_BOOTSTRAP="kafka:9092")
    assert doctor._salt(cluster, {}).status == FAIL  # every worker would invent its own
    assert "PARCOURS_PII_SALT" in doctor._salt(cluster, {}).fix
    assert doctor._salt(cluster, {"PARCOURS_PII_SALT": "a-long-enough-test-salt"}).status == OK
    short = settings(tmp_path, PARCOURS_PII_SALT="abc")
    assert doctor._salt(short, {"PARCOURS_PII_SALT": "abc"}).status == WARN
    embedded = Settings.from_env({"PARCOURS_DATA_DIR": str(tmp_path / "d2")}, dotenv=tmp_path / "no.env")
    assert doctor._salt(embedded, {}).status == OK  # per-install salt kept in the data dir


def test_http_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        port = sock.getsockname()[1]
        check = doctor._http_port(settings(tmp_path, PARCOURS_HTTP_PORT=str(port)))
    assert check.status == FAIL and "PARCOURS_HTTP_PORT" in check.fix
    assert doctor._http_port(settings(tmp_path, PARCOURS_HTTP_PORT=str(port))).status == OK  # closed now


def test_an_open_collector_is_said_and_warned_of_off_the_local_stack(tmp_path: Path) -> None:
    local = doctor._write_keys(settings(tmp_path), {})
    assert local.status == OK and "accepts any write key" in local.detail
    cluster = doctor._write_keys(settings(tmp_path, PARCOURS_KAFKA_BOOTSTRAP="kafka:9092"), {})
    assert cluster.status == WARN and "PARCOURS_WRITE_KEYS" in cluster.fix
    blank = doctor._write_keys(settings(tmp_path, PARCOURS_WRITE_KEYS=", ,"), {"PARCOURS_WRITE_KEYS": ", ,"})
    assert blank.status == WARN and "names no key" in blank.detail  # was: "all checks passed"
    keyed = doctor._write_keys(settings(tmp_path, PARCOURS_WRITE_KEYS="k1,k2"), {"PARCOURS_WRITE_KEYS": "k1,k2"})
    assert keyed.status == OK and "2 write key(s)" in keyed.detail and "k1" not in keyed.detail


def test_unreachable_kafka(tmp_path: Path) -> None:
    checks = doctor._kafka(settings(tmp_path, PARCOURS_KAFKA_BOOTSTRAP="127.0.0.1:1"))
    assert [(c.name, c.status) for c in checks] == [("kafka", FAIL)]  # no topic check without a broker
    assert "127.0.0.1:1" in checks[0].detail and "PARCOURS_KAFKA_BOOTSTRAP" in checks[0].fix


def test_topics_against_declared_partitions() -> None:
    declared = {t.name: t.partitions for t in topics().all()}
    raw, facts = topics().raw.name, topics().facts.name
    checks = doctor._topics({raw: declared[raw], facts: declared[facts] + 1})
    status = {c.detail.split()[0].rstrip(":"): c.status for c in checks}
    assert status[raw] == OK
    assert status[facts] == FAIL
    assert {s for name, s in status.items() if name not in (raw, facts)} == {WARN}  # missing: workers create them
    assert len(checks) == len(declared)


def test_topic_configs_against_declared_configs() -> None:
    """A topic created before topics.toml declared its configs keeps the broker's defaults
    (workers only create missing topics): the links topic would expire after 7 days."""
    links, sessions, profiles = topics().links, topics().sessions_changelog, topics().profiles
    existing = {t.name: t.partitions for t in topics().all()}
    configs = {links.name: {"retention.ms": "604800000", "cleanup.policy": "delete"},
               sessions.name: {"cleanup.policy": "compact"}, profiles.name: {"cleanup.policy": "compact"}}
    checks = {c.detail.split()[0].rstrip(":"): c for c in doctor._topics(existing, configs)}
    assert checks[links.name].status == FAIL and "retention.ms=604800000" in checks[links.name].detail
    assert checks[links.name].fix.endswith(f"--entity-name {links.name} --add-config retention.ms=-1")
    assert checks[sessions.name].status == OK and "cleanup.policy=compact" in checks[sessions.name].detail
    assert checks[topics().raw.name].status == OK  # declares no config: the broker's are fine
    unreadable = {c.detail.split()[0].rstrip(":"): c.status for c in doctor._topics(existing, None)}
    assert unreadable[links.name] == WARN and unreadable[topics().raw.name] == OK


def test_placeholder_secrets_fail(tmp_path: Path) -> None:
    placeholders = settings(tmp_path, PARCOURS_PII_SALT="change-me-long-random-pii-salt",
                            PARCOURS_BI_PASSWORD="change-me-bi-password",
                            PARCOURS_CLICKHOUSE_URL="http://parcours:change-me-clickhouse-password@clickhouse:8123/parcours")
    checks = doctor._placeholders(placeholders)
    assert [c.status for c in checks] == [FAIL] * 3
    assert all("change-me" not in c.detail + c.fix for c in checks)  # the values are never shown
    assert doctor._placeholders(settings(tmp_path, PARCOURS_BI_PASSWORD="Zq3-random")) == []


class _RefusesPassword(http.server.BaseHTTPRequestHandler):
    """Answers every request as a ClickHouse server refusing the credentials."""

    def _refuse(self) -> None:
        body = (b"Code: 516. DB::Exception: bob: Authentication failed: password is incorrect, or there is no "
                b"user with such name. (AUTHENTICATION_FAILED) (version 25.8.1.1)\n")
        self.send_response(516)
        self.send_header("X-ClickHouse-Exception-Code", "516")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _refuse

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def refusing_clickhouse() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RefusesPassword)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_clickhouse_refuses_credentials(tmp_path: Path, refusing_clickhouse: int) -> None:
    url = f"http://bob:wrong@127.0.0.1:{refusing_clickhouse}/parcours"
    (check,) = doctor._clickhouse(settings(tmp_path, PARCOURS_CLICKHOUSE_URL=url))
    assert check.status == FAIL
    assert "credentials" in check.detail and "wrong" not in check.detail  # the password is never shown
    assert "user and password" in check.fix


def test_clickhouse_unreachable(tmp_path: Path) -> None:
    (check,) = doctor._clickhouse(settings(tmp_path, PARCOURS_CLICKHOUSE_URL="http://bob:pw@127.0.0.1:1/parcours"))
    assert check.status == FAIL and "unreachable" in check.detail and "PARCOURS_CLICKHOUSE_URL" in check.fix
    # the address and the cause, not urllib3's pool, query id and object address
    assert check.detail.endswith("ClickHouse unreachable: 127.0.0.1:1: Connection refused"), check.detail


class _Ledger:
    """A client whose schema_migrations holds `versions` (or does not exist)."""

    def __init__(self, versions: list[int] | None, dropped: tuple[str, ...] = ()) -> None:
        from pipeline.sink.migrations import created_objects

        self.versions = versions
        self.tables = sorted(created_objects() - set(dropped))

    def query(self, sql: str) -> Any:
        if self.versions is None:
            raise RuntimeError("Code: 60. DB::Exception: Table parcours.schema_migrations does not exist. (UNKNOWN_TABLE)")
        rows = [(t,) for t in self.tables] if "system.tables" in sql else [(v,) for v in self.versions]
        return type("Result", (), {"result_rows": rows})()


def test_missing_migrations(tmp_path: Path) -> None:
    server = settings(tmp_path, PARCOURS_CLICKHOUSE_URL="http://u:p@clickhouse:8123/parcours")
    check = doctor._migrations(server, _Ledger([1, 2]))
    assert check.status == FAIL and "0003_" in check.detail and check.fix == "run `parcours migrate`"
    assert doctor._migrations(server, _Ledger(None)).status == FAIL  # nothing applied at all
    every = [m.version for m in doctor_migrations()]
    assert doctor._migrations(server, _Ledger(every)).status == OK
    dropped = doctor._migrations(server, _Ledger(every, dropped=("v_sessions",)))
    assert dropped.status == FAIL and "v_sessions" in dropped.detail and "parcours migrate" in dropped.fix
    assert doctor._migrations(settings(tmp_path), _Ledger([1])).status == OK  # the embedded stack migrates itself


def doctor_migrations() -> list[Any]:
    from pipeline.sink.migrations import discover

    return discover()


def test_render_says_what_failed() -> None:
    text = doctor.render([Check("kafka", FAIL, "cannot reach Kafka", "check PARCOURS_KAFKA_BOOTSTRAP"),
                          Check("settings", OK, "fine")])
    assert "FAIL  kafka" in text and "fix: check PARCOURS_KAFKA_BOOTSTRAP" in text
    assert text.endswith("1 check(s) failed")
