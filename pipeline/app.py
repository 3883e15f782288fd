"""The composition of one worker: the stages in flow order, wired to Kafka and ClickHouse.

  raw topic --ingest edge--> events.valid --identity agent--> events.by_person
      --sessions agent--> facts --sink edge--> ClickHouse
  identity agents <--links topic--> identity follower (every worker holds the whole graph)

Faust runs the two stateful agents (consumer groups, rebalancing, commits); the edges that
see one message per event (ingest) or write to ClickHouse (sink) are plain asyncio loops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import faust
from clickhouse_connect.driver.client import Client
from faust.types import TP

from pipeline import allocator, gc_tuning, http
from pipeline.identity import agent as identity_agent
from pipeline.identity import history
from pipeline.identity.follower import follow
from pipeline.ingest import edge as ingest_edge
from pipeline.kafka import FETCH_MAX_WAIT_MS, ensure_topics, producer
from pipeline.profiles import history as profiles_history
from pipeline.runtime import Runtime
from pipeline.sessions import agent as sessions_agent
from pipeline.settings import Settings
from pipeline.sink.edge import SinkEdge

log = logging.getLogger(__name__)

#: The Faust app's id, which is also the agents' consumer group (events.valid, events.by_person).
APP_ID = "parcours"


def faust_app(settings: Settings, bootstrap: str, web_port: int | None) -> faust.App:
    return faust.App(
        APP_ID,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        broker_session_timeout=6,  # group join takes ~half of it (BASELINES)
        broker_heartbeat_interval=1,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        consumer_max_fetch_size=8 * 1024 * 1024,
        topic_allow_declare=False,  # topics come from infra/kafka/topics.toml
        topic_disable_leader=True,
        web_enabled=web_port is not None,
        web_port=web_port or 6066,
        web_bind="0.0.0.0",
        # Faust's own pages: /router/ names every worker's host (Parcours routes profile
        # lookups itself), /table/ serves Tables it has none of, /stats/ is for debugging
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        autodiscover=False,
    )


def tune_faust_fetch(app: faust.App) -> None:
    """Faust hard-codes fetch_max_wait_ms=1500 for its consumer; on the embedded broker each
    agent hop would wait that long. Faust exposes no setting, so set the fetcher's value."""
    fetcher = getattr(getattr(getattr(app.consumer, "_thread", None), "_consumer", None), "_fetcher", None)
    if fetcher is not None and hasattr(fetcher, "_fetch_max_wait_ms"):
        fetcher._fetch_max_wait_ms = FETCH_MAX_WAIT_MS
    else:
        log.warning("could not tune Faust's fetch wait (faust-streaming internals changed?)")


class Pipeline:
    """One worker process: both agents, both edges, and the sink when this process owns it."""

    def __init__(self, settings: Settings, bootstrap: str, clickhouse: Client | None,
                 web_port: int | None = None) -> None:
        self.settings = settings
        self.rt = Runtime(settings, bootstrap, producer(bootstrap))
        self.app = faust_app(settings, bootstrap, web_port)
        # A producer per stage: each waits for its own outputs' acknowledgements only.
        self.sessionizer = sessions_agent.Sessionizer(self.rt.for_stage())
        identity_agent.register(self.app, self.rt.for_stage())
        sessions_agent.register(self.app, self.sessionizer.rt, self.sessionizer)
        self.clickhouse = clickhouse
        self.sink = SinkEdge(bootstrap, clickhouse, self.rt.topics, self.rt.stats) if clickhouse else None
        http.register(self.app, self)
        self.serves_lookups = web_port is not None
        """`parcours up` and `parcours worker`: profiles are looked up over HTTP."""
        self.failed = False
        self._stopping = asyncio.Event()
        self._sink_stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        gc_tuning.tune()
        allocator.tune()
        ensure_topics(self.rt.bootstrap, self.rt.topics.all(), replication=self.settings.kafka_replication)
        self._spawn("ingest", lambda: ingest_edge.run(self.rt, self._stopping))
        restored: Callable[[], history.Published] | None = None
        client = self.clickhouse
        if client is not None and self.settings.embedded_broker:  # a broker that kept nothing
            published = history.Published(client)
            history.replay_links(self.rt, client)
            if self.serves_lookups:
                profiles_history.replay_profiles(self.rt, client)
            restored = lambda: published  # noqa: E731
        elif client is not None:  # a restart: the previous life's rows in flight are written first
            def restored() -> history.Published:
                history.facts_written(self.rt.bootstrap, self.rt.topics.facts)
                return history.Published(client)
        self._spawn("identity-follower", lambda: follow(self.rt, self._stopping, restored))
        if self.sink is not None:
            self._spawn("sink", lambda: self.sink.run(self._sink_stopping))  # type: ignore[union-attr]
        await self.app.start()
        tune_faust_fetch(self.app)

    def _spawn(self, name: str, run: Callable[[], Awaitable[None]]) -> None:
        async def guarded() -> None:
            try:
                await run()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stage %s failed; stopping the worker", name)
                self.failed = True
                self._stopping.set()

        self._tasks.append(asyncio.create_task(guarded(), name=f"parcours.{name}"))


    async def until_serving(self, timeout_s: float = 60.0) -> bool:
        """Until this process owns every partition of the persons and has read their state: a
        stack of one process (`parcours up`) then answers every lookup. False on timeout."""
        topic = self.rt.topics.by_person
        wanted = {TP(topic.name, p) for p in range(topic.partitions)}
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not wanted <= set(self.app.assignor.assigned_actives()):
            if asyncio.get_running_loop().time() > deadline or self.failed:
                return False
            await asyncio.sleep(0.05)
        for partition in range(topic.partitions):
            await self.sessionizer.ensure_restored(partition)
        return True

    def check(self) -> None:
        """Raise if a stage died (the CLI turns it into an exit code)."""
        if self.failed:
            raise RuntimeError("a pipeline stage failed: see the log above")

    async def stop(self) -> None:
        """Stop taking input, flush open sessions, let the sink write everything, stop."""
        self._stopping.set()
        await self.app.stop()
        self.sessionizer.flush_all()
        self._sink_stopping.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.rt.close()
