"""Starts what a command needs: the broker (embedded unless configured), ClickHouse (embedded
chDB unless configured, migrated), and the pipeline; stops them in reverse order."""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

from clickhouse_connect.driver.client import Client

from pipeline import event_loop
from pipeline.app import Pipeline
from pipeline.embedded.broker import EmbeddedBroker
from pipeline.errors import ConfigError
from pipeline.http import require_free_port
from pipeline.settings import Settings, redact_url
from pipeline.sink import pii_salt
from pipeline.sink.clickhouse import connect
from pipeline.sink.migrations import migrate, pending

log = logging.getLogger(__name__)


class Stack:
    def __init__(self, settings: Settings, web_port: int | None = None) -> None:
        self.settings = settings
        self.web_port = web_port
        self.broker = EmbeddedBroker(settings.data_dir) if settings.embedded_broker else None
        self.clickhouse: Client | None = None
        self.pipeline: Pipeline | None = None

    @property
    def bootstrap(self) -> str:
        return self.settings.kafka_bootstrap or (self.broker.bootstrap if self.broker else "")

    async def __aenter__(self) -> Stack:
        if self.web_port is not None:
            require_free_port(self.web_port)
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        if self.broker is not None:
            self.broker.start()
        try:
            if self.settings.sink:
                self.clickhouse = open_clickhouse(self.settings)
            self.pipeline = Pipeline(self.settings, self.bootstrap, self.clickhouse, self.web_port)
            await self.pipeline.start()
        except BaseException:
            if self.broker is not None:
                self.broker.stop()
            raise
        sink = redact_url(self.settings.clickhouse_url) if self.settings.sink else "not written (PARCOURS_SINK=0)"
        log.info("pipeline running: kafka %s, clickhouse %s, event loop %s", self.bootstrap, sink,
                 event_loop.name(asyncio.get_running_loop()))
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            if self.pipeline is not None:
                await self.pipeline.stop()
        finally:
            if self.broker is not None:
                self.broker.stop()


def open_clickhouse(settings: Settings) -> Client:
    """Embedded chDB is migrated on the spot; a server must have been migrated by `parcours migrate`."""
    client = connect(settings)
    if settings.embedded_clickhouse:
        migrate(client)
    elif missing := pending(client):
        raise ConfigError(f"ClickHouse at {redact_url(settings.clickhouse_url)} lacks migrations "
                          f"{', '.join(f'{m.version:04d}_{m.name}' for m in missing)}",
                          hint="run `parcours migrate` first")
    pii_salt.check(client, settings.pii_salt, redact_url(settings.clickhouse_url))
    return client
