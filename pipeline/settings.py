"""One frozen, typed settings object per process, built once from the environment.

Every field documents its unit. A `.env` file in the working directory is read too
(environment variables win). Secrets (the PII salt, ClickHouse passwords) never appear in
`repr()` or logs.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import phonenumbers

from pipeline.errors import ConfigError
from pipeline.event_loop import DEFAULT as DEFAULT_LOOP
from pipeline.event_loop import LOOPS

#: PARCOURS_LOG_LEVEL values; ALL = DEBUG for Parcours and the client libraries too (pipeline/logs.py).
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "ALL")
DATA_DIR_HINT = "set PARCOURS_DATA_DIR to a directory this user can write, or fix its permissions"
CLICKHOUSE_URL_FORMS = "chdb://PATH (embedded engine) or http(s)://user:pass@host:port/db (a ClickHouse server)"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(text: str, name: str) -> float:
    """'30m' -> 1800.0 seconds; a bare number is seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"{name}={text!r} is not a duration", hint="use e.g. 90s, 30m, 6h or 1d")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


#: A .env value as docker compose reads it: quoted ('#' inside is kept), or bare, where a '#'
#: after a blank starts a comment (`PARCOURS_SESSION_GAP=45m  # comment`).
_DOTENV_VALUE = re.compile(r"""(?:"(?P<double>[^"]*)"|'(?P<single>[^']*)'|(?P<bare>.*?))(?:\s+#.*)?\s*""")


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; '#' comments, also after a bare value; optional quotes. No interpolation."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip().removeprefix("export ").strip()] = _dotenv_value(value.strip())
    return values


def _dotenv_value(text: str) -> str:
    match = _DOTENV_VALUE.fullmatch(text)
    assert match is not None  # the bare form matches anything
    if match.group("bare") is None:
        return match.group("double") if match.group("double") is not None else match.group("single")
    return match.group("bare").strip("'\"")  # an unbalanced quote, as before


def redact_url(url: str) -> str:
    """http://user:secret@host -> http://user:***@host, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    """PARCOURS_DATA_DIR: where the embedded stack keeps its files (broker log, chDB, salt)."""
    kafka_bootstrap: str | None
    """PARCOURS_KAFKA_BOOTSTRAP: a real cluster's bootstrap servers; None = embedded broker."""
    clickhouse_url: str
    """PARCOURS_CLICKHOUSE_URL: chdb://PATH (embedded engine) or http(s)://user:pass@host:port/db."""
    pii_salt: bytes = field(repr=False)
    """PARCOURS_PII_SALT: salt for hashing email and phone; default a per-install random salt."""
    kafka_replication: int = 1
    """PARCOURS_KAFKA_REPLICATION: replication factor of the topics Parcours creates (missing
    ones only), >= 1, or -1 = the cluster's default.replication.factor (KIP-464, Kafka 2.4+).
    Default 1 on the embedded broker (one node), -1 on a cluster."""
    session_gap_s: float = 1800.0
    """PARCOURS_SESSION_GAP: inactivity gap that ends a session, seconds, > 0 (env: 30m)."""
    allowed_lateness_s: float = 6 * 3600.0
    """PARCOURS_ALLOWED_LATENESS: how late (event time, seconds) an event may arrive and still
    join or re-open its session; closed sessions stay in memory this long (env: 6h)."""
    http_port: int = 6066
    """PARCOURS_HTTP_PORT: HTTP port of `parcours up` and the workers (1-65535)."""
    phone_country: str = "FR"
    """PARCOURS_PHONE_COUNTRY: ISO country for phone numbers without an international prefix."""
    batch_size: int = 5000
    """PARCOURS_BATCH_SIZE: max raw messages the ingest edge takes per poll (events, >= 1)."""
    sink: bool = True
    """PARCOURS_SINK: whether this process writes facts to ClickHouse (1/0). Embedded chDB
    allows one writer process; production workers all sink."""
    log_level: str = "INFO"
    """PARCOURS_LOG_LEVEL: one of LOG_LEVELS (DEBUG, INFO, WARNING, ERROR; ALL = libraries too)."""
    extra_identifier_kinds: tuple[str, ...] = ()
    """PARCOURS_EXTRA_IDENTIFIER_KINDS: comma-separated identifier kinds beyond those of
    schemas/identity.toml (e.g. `shopify_id,zendesk_id`), weaker than all of them."""
    write_keys: tuple[str, ...] = field(default=(), repr=False)
    """PARCOURS_WRITE_KEYS: comma-separated write keys the HTTP collector accepts (Segment /
    RudderStack SDKs send theirs as the basic-auth user name); empty = any key is accepted."""
    bi_user: str = "parcours_bi"
    """PARCOURS_BI_USER: the read-only ClickHouse user (the parcours.v_* views only) that
    `parcours migrate` creates on a server, for BI tools and Grafana."""
    bi_password: str | None = field(default=None, repr=False)
    """PARCOURS_BI_PASSWORD: that user's password, set (or reset) by every `parcours migrate`;
    unset = the user is not created or changed."""
    event_loop: str = DEFAULT_LOOP
    """PARCOURS_EVENT_LOOP: one of LOOPS (uvloop, where installed; asyncio = the standard
    library's loop), see pipeline/event_loop.py."""

    @property
    def embedded_broker(self) -> bool:
        return self.kafka_bootstrap is None

    @property
    def embedded_clickhouse(self) -> bool:
        return self.clickhouse_url.startswith("chdb://")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, dotenv: Path | None = None) -> Settings:
        merged = {**read_dotenv(dotenv or Path(".env")), **(os.environ if env is None else env)}
        data_dir = _data_dir(merged.get("PARCOURS_DATA_DIR") or "./.parcours")
        return cls(
            data_dir=data_dir,
            kafka_bootstrap=merged.get("PARCOURS_KAFKA_BOOTSTRAP") or None,
            kafka_replication=_replication(merged),
            clickhouse_url=_clickhouse_url(
                merged.get("PARCOURS_CLICKHOUSE_URL") or f"chdb://{data_dir / 'clickhouse'}"),
            pii_salt=_salt(merged.get("PARCOURS_PII_SALT"), data_dir),
            session_gap_s=_positive_duration(merged, "PARCOURS_SESSION_GAP", "30m"),
            allowed_lateness_s=parse_duration(
                merged.get("PARCOURS_ALLOWED_LATENESS", "6h"), "PARCOURS_ALLOWED_LATENESS"
            ),  # 0 is meaningful: no late event joins a closed session
            http_port=_int(merged, "PARCOURS_HTTP_PORT", 6066, 1, 65535, "a free TCP port, e.g. 6066"),
            phone_country=_phone_country(merged.get("PARCOURS_PHONE_COUNTRY", "FR")),
            batch_size=_int(merged, "PARCOURS_BATCH_SIZE", 5000, 1, None, "e.g. 5000 (events per poll)"),
            sink=_flag(merged, "PARCOURS_SINK", True),
            log_level=_log_level(merged.get("PARCOURS_LOG_LEVEL") or "INFO"),
            extra_identifier_kinds=tuple(
                k.strip() for k in merged.get("PARCOURS_EXTRA_IDENTIFIER_KINDS", "").split(",") if k.strip()),
            write_keys=tuple(k.strip() for k in merged.get("PARCOURS_WRITE_KEYS", "").split(",") if k.strip()),
            bi_user=merged.get("PARCOURS_BI_USER") or "parcours_bi",
            bi_password=merged.get("PARCOURS_BI_PASSWORD") or None,
            event_loop=event_loop_of(merged),
        )


def _data_dir(raw: str) -> Path:
    """PARCOURS_DATA_DIR, created if missing. Every run keeps files there (salt, broker log,
    chDB, Faust): one that cannot be created (a file, under a file, /proc/...) is refused here
    rather than met later as a traceback."""
    path = Path(raw).resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problem = ("is a file" if isinstance(exc, FileExistsError) else "is under a file"
                   if isinstance(exc, NotADirectoryError) else f"cannot be created ({exc.strerror})")
        raise ConfigError(f"PARCOURS_DATA_DIR={raw!r} {problem}", hint=DATA_DIR_HINT) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"PARCOURS_DATA_DIR={raw!r} is not writable", hint=DATA_DIR_HINT)
    return path


def _int(env: dict[str, str], name: str, default: int, low: int, high: int | None, example: str) -> int:
    """An integer in [low, high] (high None = no upper bound); unset or empty = `default`."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer", hint=f"unset it for {default}") from None
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ConfigError(f"{name}={raw!r} is out of range: it must be {span}",
                          hint=f"set it to {example}, or unset it for {default}")
    return value


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _flag(env: dict[str, str], name: str, default: bool) -> bool:
    """1/true/yes/on or 0/false/no/off, any case; unset or empty = `default`. Anything else is
    refused: `PARCOURS_SINK=maybe` running with the sink on would be a silent guess."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value not in _TRUE + _FALSE:
        raise ConfigError(f"{name}={raw!r} is not a yes or a no",
                          hint=f"set it to 1 or 0 (true/false, yes/no, on/off), or unset it for {int(default)}")
    return value in _TRUE


def _replication(env: dict[str, str]) -> int:
    """PARCOURS_KAFKA_REPLICATION: unset = 1 on the embedded broker (a single node), else -1."""
    default = 1 if not env.get("PARCOURS_KAFKA_BOOTSTRAP") else -1
    value = _int(env, "PARCOURS_KAFKA_REPLICATION", default, -1, None, "e.g. 3, or -1 for the cluster's default")
    if value == 0:
        raise ConfigError("PARCOURS_KAFKA_REPLICATION=0 is not a replication factor",
                          hint=f"set it to 1 or more, or -1 for the cluster's default, or unset it for {default}")
    return value


def _positive_duration(env: dict[str, str], name: str, default: str) -> float:
    seconds = parse_duration(env.get(name, default), name)
    if seconds <= 0:
        raise ConfigError(f"{name}={env.get(name)!r} must be longer than zero",
                          hint=f"use e.g. 90s, 30m or 6h, or unset it for {default}")
    return seconds


def event_loop_of(env: Mapping[str, str]) -> str:
    """PARCOURS_EVENT_LOOP, checked (the benchmark's processes read it without a Settings)."""
    raw = env.get("PARCOURS_EVENT_LOOP") or DEFAULT_LOOP
    loop = raw.strip().lower()
    if loop not in LOOPS:
        raise ConfigError(f"PARCOURS_EVENT_LOOP={raw!r} is not an event loop",
                          hint=f"use one of {', '.join(LOOPS)}, or unset it for {DEFAULT_LOOP}")
    return loop


def _phone_country(raw: str) -> str:
    """A region the phone library knows: any other value would make every phone number in
    national form (06 12 34 56 78) unparsable, and silently dropped at ingest."""
    country = raw.strip().upper()
    if country not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"PARCOURS_PHONE_COUNTRY={raw!r} is not a country code",
                          hint="use a two-letter ISO 3166 code such as FR, DE, GB or US, or unset it for FR")
    return country


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"PARCOURS_LOG_LEVEL={raw!r} is not a log level",
                          hint=f"use one of {', '.join(LOG_LEVELS)} (ALL also shows the client libraries)")
    return level


def _clickhouse_url(url: str) -> str:
    """chdb://PATH or http(s)://host...; anything else is refused here, rather than reported
    later as an unreachable server."""
    if url.startswith("chdb://") and url.removeprefix("chdb://").strip():
        return url
    try:
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname and parts.port != 0:
            return url
        shown = repr(redact_url(url))
    except ValueError:  # a bad port or an unclosed [IPv6]: the value may hold a password
        parts, shown = urlsplit(""), "(not shown)"
    if parts.scheme in ("chdb", "http", "https") or shown == "(not shown)":
        problem = "is incomplete or malformed"
    elif parts.scheme and "://" in url:
        problem = f"has an unsupported scheme ({parts.scheme}://)"
    else:
        problem = "is not a URL"
    raise ConfigError(f"PARCOURS_CLICKHOUSE_URL={shown} {problem}", hint=f"use {CLICKHOUSE_URL_FORMS}")


def _salt(explicit: str | None, data_dir: Path) -> bytes:
    """An explicit salt wins; else one random salt per install, kept in the data dir."""
    if explicit:
        return explicit.encode()
    path = data_dir / "pii_salt"
    if path.is_file():
        return path.read_bytes().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    salt = secrets.token_hex(32).encode()
    path.write_bytes(salt)
    path.chmod(0o600)
    return salt
