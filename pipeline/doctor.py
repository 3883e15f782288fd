"""`parcours doctor`: checks what a run needs, and says for each check what to fix.

Checks, in the order a run meets them: settings parse; the data dir is writable; the PII salt
(explicit, or kept in the data dir); the HTTP port is free; whether the collector checks write
keys; Kafka (the configured cluster
answers, or the embedded broker binary is there and starts); the declared topics and their
partition counts and configs (configured cluster only: the embedded broker starts empty);
ClickHouse (connects, credentials accepted, migrations applied). Read-only against the servers:
it creates no topic, table or ledger.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipeline.errors import ParcoursError, classify_clickhouse
from pipeline.settings import DATA_DIR_HINT, Settings, read_dotenv, redact_url

OK, WARN, FAIL = "OK", "WARN", "FAIL"
#: How the placeholder secrets of infra/compose/.env.example began before its secrets were left
#: empty (compose refuses an empty one): an env file copied from an older example may hold them.
PLACEHOLDER = "change-me"
#: Seconds doctor waits for a Kafka cluster's metadata (a run waits 30: doctor answers fast).
KAFKA_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""

    def render(self) -> str:
        line = f"{self.status:<5} {self.name:<12} {self.detail}"
        return f"{line}\n{'':18}fix: {self.fix}" if self.fix else line


def run(env: Mapping[str, str] | None = None, dotenv: Path | None = None) -> list[Check]:
    """Every check; those that need valid settings are skipped when they do not parse."""
    env = dict(os.environ if env is None else env)
    try:
        settings = Settings.from_env(env, dotenv)
    except ParcoursError as error:
        return [Check("settings", FAIL, str(error).splitlines()[0], error.hint)]
    except OSError as exc:  # the per-install salt could not be written into the data dir
        return [Check("settings", FAIL, f"cannot use the data dir: {exc}",
                      "set PARCOURS_DATA_DIR to a directory this user can write")]
    merged = {**read_dotenv(dotenv or Path(".env")), **env}
    checks = [_settings(settings)]
    for check in (_data_dir, lambda s: _salt(s, merged), _placeholders, _http_port,
                  lambda s: _write_keys(s, merged), _kafka, _clickhouse):
        checks.extend(_guarded(check, settings))
    return checks


def _guarded(check: Callable[[Settings], Check | list[Check] | None], settings: Settings) -> Iterator[Check]:
    """A check that raises is a failed check, not a crashed doctor."""
    try:
        result = check(settings)
    except ParcoursError as error:
        name = getattr(check, "__name__", "check").strip("_<>")
        yield Check(name, FAIL, str(error).splitlines()[0], error.hint)
        return
    if isinstance(result, Check):
        yield result
    elif result:
        yield from result


def _settings(s: Settings) -> Check:
    broker = s.kafka_bootstrap or "embedded broker"
    return Check("settings", OK, f"Kafka {broker}, ClickHouse {redact_url(s.clickhouse_url)}, "
                                 f"HTTP port {s.http_port}, data dir {s.data_dir}")


def _data_dir(s: Settings) -> Check:
    try:
        s.data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=s.data_dir, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Check("data dir", FAIL, f"{s.data_dir} is not writable: {exc.strerror}", DATA_DIR_HINT)
    return Check("data dir", OK, f"{s.data_dir} is writable")


def _salt(s: Settings, env: Mapping[str, str]) -> Check:
    explicit = bool(env.get("PARCOURS_PII_SALT"))
    if not explicit and not s.embedded_broker:
        # Each worker would invent its own salt in its own data dir: the same email would hash
        # differently on each, and persons would never stitch across workers.
        return Check("pii salt", FAIL, "no PARCOURS_PII_SALT while running against a Kafka cluster",
                     "set the same PARCOURS_PII_SALT (e.g. `openssl rand -hex 32`) for every worker")
    if explicit and len(s.pii_salt) < 16:
        return Check("pii salt", WARN, f"PARCOURS_PII_SALT is short ({len(s.pii_salt)} characters)",
                     "use 32+ random characters; changing it later splits every known person")
    where = "PARCOURS_PII_SALT" if explicit else f"{s.data_dir / 'pii_salt'} (per install)"
    return Check("pii salt", OK, f"from {where}")


def _placeholders(s: Settings) -> list[Check]:
    """Secrets still holding an example's placeholder: anyone who read the example knows them."""
    secrets = {"PARCOURS_PII_SALT": s.pii_salt.decode(errors="replace"), "PARCOURS_BI_PASSWORD": s.bi_password or "",
               "the password in PARCOURS_CLICKHOUSE_URL": urlsplit(s.clickhouse_url).password or ""}
    return [Check("secrets", FAIL, f"{name} is still a placeholder of infra/compose/.env.example",
                  "replace it with a random value (`openssl rand -hex 32`); the PII salt only before the "
                  "first run (data hashed with one salt is not found with another)")
            for name, value in secrets.items() if value.startswith(PLACEHOLDER)]


def _http_port(s: Settings) -> Check:
    from pipeline.http import port_in_use

    if port_in_use(s.http_port):
        return Check("http port", FAIL, f"port {s.http_port} is already in use",
                     "stop the other process (another `parcours up`?) or set PARCOURS_HTTP_PORT to a free port")
    return Check("http port", OK, f"port {s.http_port} is free")


def _write_keys(s: Settings, env: Mapping[str, str]) -> Check:
    """Whether the HTTP collector is open: fine for a local run, not for one that others reach."""
    if s.write_keys:
        return Check("write keys", OK, f"the collector accepts {len(s.write_keys)} write key(s)")
    raw = env.get("PARCOURS_WRITE_KEYS", "")
    said = f"PARCOURS_WRITE_KEYS={raw!r} names no key: " if raw.strip() else ""
    detail = f"{said}the collector on port {s.http_port} accepts any write key, or none"
    if s.embedded_broker and not said:
        return Check("write keys", OK, f"{detail} (a local run)")
    return Check("write keys", WARN, detail,
                 "set PARCOURS_WRITE_KEYS to the SDKs' write keys, comma-separated, if anyone else can "
                 "reach this port")


def _kafka(s: Settings) -> list[Check]:
    if s.kafka_bootstrap is None:
        # The embedded broker starts empty and the stack creates the topics: nothing to compare.
        return [_embedded_broker(s)]
    try:
        existing = _topic_partitions(s.kafka_bootstrap)
    except ParcoursError as error:
        return [Check("kafka", FAIL, str(error).splitlines()[0], error.hint)]
    configs = _topic_configs(s.kafka_bootstrap, [name for name in existing if name in _declared_configs()])
    return [Check("kafka", OK, f"{s.kafka_bootstrap} answers"), *_topics(existing, configs)]


def _embedded_broker(s: Settings) -> Check:
    from pipeline.embedded.broker import EmbeddedBroker

    broker = EmbeddedBroker(s.data_dir)
    try:
        broker.start(timeout=20)
    except ParcoursError as error:
        return Check("kafka", FAIL, f"the embedded broker does not start: {str(error).splitlines()[0]}",
                     error.hint or "set PARCOURS_KAFKA_BOOTSTRAP to a Kafka cluster instead")
    finally:
        broker.stop()
    return Check("kafka", OK, "embedded broker binary present, starts and accepts connections")


def _topic_partitions(bootstrap: str) -> dict[str, int]:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    from pipeline.errors import Terminal
    from pipeline.kafka import check_reachable, describe

    check_reachable(bootstrap)
    # librdkafka's retry lines go through logging (quiet unless PARCOURS_LOG_LEVEL=ALL), not stderr.
    config: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": logging.getLogger("kafka.admin")}
    admin = AdminClient(config)
    try:
        metadata = admin.list_topics(timeout=KAFKA_TIMEOUT_S)
    except KafkaException as exc:
        raise Terminal(f"cannot reach Kafka at {bootstrap}: {describe(exc)}",
                       hint="check PARCOURS_KAFKA_BOOTSTRAP (host:port, reachable from here), "
                            "or unset it to use the embedded broker") from exc
    return {name: len(topic.partitions) for name, topic in metadata.topics.items()}


def _declared_configs() -> dict[str, dict[str, str]]:
    from pipeline.topics import topics

    return {t.name: dict(t.config) for t in topics().all() if t.config}


def _topic_configs(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]] | None:
    """{topic: {config: value}} as the cluster has them; None when it does not tell (ACLs)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, ConfigResource, ResourceType

    if not names:
        return {}
    config: dict[str, Any] = {"bootstrap.servers": bootstrap, "logger": logging.getLogger("kafka.admin")}
    admin = AdminClient(config)
    try:
        futures = admin.describe_configs([ConfigResource(ResourceType.TOPIC, name) for name in names],
                                         request_timeout=KAFKA_TIMEOUT_S)
        return {resource.name: {k: str(v.value) for k, v in future.result().items()}
                for resource, future in futures.items()}
    except KafkaException:
        return None


def _topics(existing: Mapping[str, int], configs: Mapping[str, Mapping[str, str]] | None = None) -> list[Check]:
    """Each declared topic against the cluster's {name: partitions} and, where topics.toml
    declares configs, the cluster's {name: {config: value}} (None: could not be read)."""
    from pipeline.topics import topics

    checks = []
    for topic in topics().all():
        have = existing.get(topic.name)
        if have is None:
            checks.append(Check("topic", WARN, f"{topic.name} is missing ({topic.partitions} partitions declared)",
                                "workers create it at start; where they may not, create it with that many "
                                "partitions and the configs infra/kafka/topics.toml declares"))
        elif have != topic.partitions:
            checks.append(Check("topic", FAIL, f"{topic.name} has {have} partitions, infra/kafka/topics.toml "
                                               f"declares {topic.partitions}",
                                "keys are placed by the declared count: make the topic and the file agree"))
        else:
            checks.append(_topic_config(topic.name, have, dict(topic.config), configs))
    return checks


def _topic_config(name: str, partitions: int, declared: dict[str, str],
                  configs: Mapping[str, Mapping[str, str]] | None) -> Check:
    """A topic created before topics.toml declared its configs (e.g. the links topic with the
    broker's 7 days of retention) keeps the old ones: workers only create missing topics."""
    shown = "".join(f", {k}={v}" for k, v in declared.items())
    if not declared:
        return Check("topic", OK, f"{name}: {partitions} partitions")
    if configs is None:
        return Check("topic", WARN, f"{name}: {partitions} partitions; its configs could not be read",
                     f"check that it has {shown[2:]} (allow DescribeConfigs on the topic to let doctor check)")
    have = configs.get(name, {})
    wrong = {k: v for k, v in declared.items() if have.get(k) != v}
    if not wrong:
        return Check("topic", OK, f"{name}: {partitions} partitions{shown}")
    found = ", ".join(f"{k}={have.get(k, '(unset)')}" for k in wrong)
    return Check("topic", FAIL, f"{name} has {found}, infra/kafka/topics.toml declares "
                                f"{', '.join(f'{k}={v}' for k, v in wrong.items())}",
                 f"kafka-configs.sh --bootstrap-server BROKER --alter --entity-type topics --entity-name {name} "
                 f"--add-config {','.join(f'{k}={v}' for k, v in wrong.items())}")


def _clickhouse(s: Settings) -> list[Check]:
    from pipeline.cli import require_embedded_clickhouse_free
    from pipeline.sink.clickhouse import connect

    where = redact_url(s.clickhouse_url)
    try:
        require_embedded_clickhouse_free(s)  # else chDB prints its raw lock error on stderr
        client = connect(s)
        client.query("SELECT 1")
    except ParcoursError as error:
        return [Check("clickhouse", FAIL, str(error).splitlines()[0], error.hint)]
    except Exception as exc:  # driver errors are classified in one place
        classified = classify_clickhouse(exc)
        return [Check("clickhouse", FAIL, f"{where}: {str(classified).splitlines()[0]}", classified.hint)]
    return [Check("clickhouse", OK, f"{where} answers, credentials accepted"), _migrations(s, client),
            *_salt_of_the_data(s, client)]


def _salt_of_the_data(s: Settings, client: Any) -> list[Check]:
    """Whether the data in ClickHouse was hashed with this salt (0018; none before a first run)."""
    from pipeline.sink import pii_salt

    try:
        known = pii_salt.recorded(client)
    except Exception:  # noqa: BLE001 - before 0018 is applied: nothing recorded yet
        return []
    if not known or pii_salt.fingerprint(s.pii_salt) == known[0]:
        return []
    return [Check("pii salt", FAIL, "the data in ClickHouse was hashed with another salt than this one",
                  "set PARCOURS_PII_SALT to the salt the data was written with (embedded: the data dir's "
                  "pii_salt file); a new salt needs a new database")]


def _migrations(s: Settings, client: object) -> Check:
    from pipeline.sink.migrations import discover, missing_objects

    try:
        rows = client.query("SELECT version FROM parcours.schema_migrations FINAL").result_rows  # type: ignore[attr-defined]
        done = {row[0] for row in rows}
    except Exception as exc:
        if "UNKNOWN_TABLE" not in str(exc) and "UNKNOWN_DATABASE" not in str(exc):
            error = classify_clickhouse(exc)
            return Check("migrations", FAIL, str(error).splitlines()[0], error.hint)
        done = set()
    missing = [f"{m.version:04d}_{m.name}" for m in discover() if m.version not in done]
    if not missing:
        gone = missing_objects(client)  # type: ignore[arg-type]
        if gone:
            return Check("migrations", FAIL, f"all {len(done)} applied, but {', '.join(gone)} missing "
                                             "(dropped by hand?)", "run `parcours migrate`: it re-creates them")
        return Check("migrations", OK, f"all {len(done)} applied")
    if s.embedded_clickhouse:
        return Check("migrations", OK, f"{len(missing)} pending: the embedded stack applies them at start")
    return Check("migrations", FAIL, f"{len(missing)} not applied: {', '.join(missing)}", "run `parcours migrate`")


def render(checks: list[Check]) -> str:
    failed = sum(c.status == FAIL for c in checks)
    summary = f"{failed} check(s) failed" if failed else "all checks passed"
    return "\n".join([c.render() for c in checks] + [summary])
