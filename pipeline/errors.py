"""Errors that say whether a retry can help and what to do next.

`Transient` errors are retried with backoff by whoever owns the loop; `Terminal` errors stop
the command with the hint printed. Driver errors are classified in `classify_clickhouse`.
"""

from __future__ import annotations

import re


class ParcoursError(Exception):
    """Base: a message for humans plus a hint saying what to do next."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class Transient(ParcoursError):
    """A retry may help (broker briefly away, ClickHouse restarting)."""


class Terminal(ParcoursError):
    """A retry will not help until someone changes something."""


class ConfigError(Terminal):
    """The environment or a data file is wrong."""


class BrokerError(Terminal):
    """The embedded broker could not start or died."""


class SinkUnavailable(Transient):
    """ClickHouse refused an insert; the sink retries after `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float = 1.0, hint: str = "") -> None:
        super().__init__(message, hint)
        self.retry_after = retry_after


def classify_clickhouse(exc: Exception) -> ParcoursError:
    """Map a clickhouse-connect / chDB error onto transient or terminal, with a hint."""
    text = str(exc)
    if "Authentication failed" in text or "AUTHENTICATION_FAILED" in text or "code: 516" in text:
        return Terminal(f"ClickHouse refused the credentials: {text[:200]}",
                        hint="check user and password in PARCOURS_CLICKHOUSE_URL")
    if "UNKNOWN_TABLE" in text or "UNKNOWN_DATABASE" in text or "code: 60" in text or "code: 81" in text:
        return Terminal(f"ClickHouse table or database missing: {text[:200]}",
                        hint="check the name; if Parcours' own tables are missing, run `parcours migrate`")
    if "Connection refused" in text or "timed out" in text or "Max retries" in text:
        return SinkUnavailable(f"ClickHouse unreachable: {_connection_problem(text)}", retry_after=1.0,
                               hint="is the ClickHouse server up? see PARCOURS_CLICKHOUSE_URL")
    if "SYNTAX_ERROR" in text or "UNKNOWN_IDENTIFIER" in text or "UNKNOWN_FUNCTION" in text:
        return Terminal(f"ClickHouse rejected the query: {text[:300]}",
                        hint="fix the SQL and run it again (an error at `FORMAT Native` is at the end of "
                             "your query: the client appends that clause)")
    return SinkUnavailable(f"ClickHouse error: {text[:300]}", retry_after=1.0)


_ADDRESS = re.compile(r"host='([^']*)', port=(\d+)")
_CAUSE = re.compile(r"\[Errno -?\d+\] ([^'\")]+)|(Read timed out|timed out|Connection refused)")


def _connection_problem(text: str) -> str:
    """urllib3's "HTTPConnectionPool(host=..., port=...): Max retries exceeded with url: ...
    (Caused by NewConnectionError('<object at 0x...>: Failed to establish ...: [Errno 111]
    Connection refused'))" as "127.0.0.1:8123: Connection refused"; other texts cut short."""
    address, cause = _ADDRESS.search(text), _CAUSE.search(text)
    if address is None or cause is None:
        return text[:200]
    return f"{address.group(1)}:{address.group(2)}: {(cause.group(1) or cause.group(2)).strip()}"
