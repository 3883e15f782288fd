"""HTTP endpoints served by every worker on PARCOURS_HTTP_PORT (Faust's web server).

  GET /health                   the process is alive (compose health check)
  GET /ready                    its stages are running
  GET /profiles/{kind}/{value}  the current profile of the person an identifier belongs to;
                                raw email/phone are hashed here; 404 when unknown
                                or shared by several customers; 400 for an unknown
                                kind or an empty value
  GET /barriers/{id}            facts partitions this worker's sink has written up to an
                                end-of-input barrier (replays and tests wait on it)
  GET /metrics                  Prometheus text format (pipeline/metrics.py)

Every worker holds the whole identity graph, so any worker resolves the identifier; the
profile itself lives with the person's sessions, on the worker that owns the person's
partition of `parcours.events.by_person`: a request that lands elsewhere is forwarded there
(once: a forwarded request is never forwarded again).

The collector (`POST /v1/batch`, `/v1/track`, ... and `/v1/events`: Segment / RudderStack
SDKs and native batches into the raw topic) is registered here too: pipeline/collector/.
"""

from __future__ import annotations

import errno
import socket
from typing import TYPE_CHECKING

import aiohttp
import faust
from faust.types import TP
from faust.web import Request, Response, View

from pipeline import metrics
from pipeline.collector import routes as collector
from pipeline.errors import ConfigError
from pipeline.identity.logic import key_of
from pipeline.ingest.logic import IngestConfig, known_kinds, lookup_problem, lookup_value
from pipeline.kafka import LIVE_CONSUMERS
from pipeline.topics import partition_of

if TYPE_CHECKING:
    from pipeline.app import Pipeline

FORWARDED = "X-Parcours-Forwarded"


def register(app: faust.App, pipeline: Pipeline) -> None:
    rt = pipeline.rt
    cfg = IngestConfig.build(rt.settings.pii_salt, rt.settings.phone_country, rt.settings.extra_identifier_kinds)
    metrics.register(app, pipeline)

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page("/ready")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            ok = not pipeline.failed and bool(app.started)
            assigned: dict[str, list[int]] = {}
            # the agents' partitions, and the edges' (raw topic, facts) of their consumer groups;
            # consumers without a group read every partition (the links topic): none is owned
            owned = [*app.assignor.assigned_actives(),
                     *(tp for cons in list(LIVE_CONSUMERS) if cons.group is not None for tp in cons.assignment())]
            for tp in owned:
                assigned.setdefault(tp.topic, []).append(tp.partition)
            return self.json({"ready": ok, "partitions": {t: sorted(p) for t, p in assigned.items()}},
                             status=200 if ok else 503)

    def refused_lookup(view: View, kind: str, value: str) -> Response | None:
        """400 for a lookup that cannot find anyone (an unknown kind, an empty value)."""
        problem = lookup_problem(kind, value, cfg)
        if problem is None:
            return None
        message, hint = problem
        return view.json({"error": message, "kind": kind, "kinds": known_kinds(cfg), "hint": hint}, status=400)

    @app.page("/profiles/{kind}/")
    class ProfilesWithoutValue(View):  # the route below needs a value: else a 404 "no endpoint"
        async def get(self, request: Request, kind: str) -> Response:
            refused = refused_lookup(self, kind, "")
            assert refused is not None  # an empty value always is
            return refused

    @app.page("/profiles/{kind}/{value}")
    class Profiles(View):
        async def get(self, request: Request, kind: str, value: str) -> Response:
            refused = refused_lookup(self, kind, value)
            if refused is not None:
                return refused
            key = key_of(kind, lookup_value(kind, value, cfg))
            if key in rt.graph.shared:  # its events name no one person: no profile is its
                return self.json({"error": "shared identifier", "kind": kind,
                                  "hint": "it was seen with several customers (a family tablet, a store "
                                          "kiosk); look up one of the customer's own identifiers"}, status=404)
            # An identifier never seen with another one is in no link group, so a graph rebuilt
            # from the links topic does not know it; its person is the one it would name.
            person = rt.graph.person_of(key)
            partition = partition_of(person, rt.topics.by_person.partitions)
            if TP(rt.topics.by_person.name, partition) in app.assignor.assigned_actives():
                await pipeline.sessionizer.ensure_restored(partition)
            else:
                owner_url = owner_of(app, rt.topics.by_person.name, partition)
                if owner_url is not None and FORWARDED not in request.headers:
                    return await forward(self, owner_url, request)
                # no owner known (the workers are being assigned their partitions), or a
                # forward that arrived after the partition moved: this worker cannot tell
                return self.json({"error": "partition not assigned", "partition": partition,
                                  "hint": "the workers are rebalancing; retry in a few seconds"},
                                 status=503, headers={"Retry-After": "2"})
            document = pipeline.sessionizer.profile(partition, person)
            if document is not None:
                return self.json(document)
            if key not in rt.graph:
                return self.json({"error": "unknown identifier", "kind": kind}, status=404)
            return self.json({"error": "no profile yet", "person_id": person}, status=404)


    @app.page("/barriers/{barrier_id}")
    class Barriers(View):
        async def get(self, request: Request, barrier_id: str) -> Response:
            sink = pipeline.sink
            reached = sorted(p for b, p in (sink.reached if sink else set()) if b == barrier_id)
            return self.json({"barrier": barrier_id, "partitions": reached, "sink": sink is not None})

    collector.register(app, rt)


def port_in_use(port: int, host: str = "0.0.0.0") -> bool:
    """Whether the web server could not bind `port` (as Faust binds it: all interfaces)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp: TIME_WAIT is no obstacle
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def require_free_port(port: int) -> None:
    """Fail before anything starts, rather than with a traceback once the broker runs."""
    if port_in_use(port):
        raise ConfigError(f"HTTP port {port} is already in use (PARCOURS_HTTP_PORT)",
                          hint="stop the other process (another `parcours up`?) or set PARCOURS_HTTP_PORT "
                               "to a free port")


def owner_of(app: faust.App, topic: str, partition: int) -> str | None:
    """URL of the worker that owns `partition`, or None when it is this one (or unknown)."""
    tp = TP(topic, partition)
    if tp in app.assignor.assigned_actives():
        return None
    url = app.assignor._external_tps_url.get(tp)  # Faust keeps no public accessor for this
    return None if url is None or url == str(app.conf.canonical_url) else url


#: Headers of the owner's reply that the forwarding worker passes on.
PASSED_ON = ("Retry-After",)


async def forward(view: View, owner_url: str, request: Request) -> Response:
    """The owner's reply; a 503 to retry when the owner cannot be reached (it is leaving, and
    its partitions are about to move): not a 500 with a traceback."""
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{owner_url.rstrip('/')}{request.path}", headers={FORWARDED: "1"},
                                   timeout=aiohttp.ClientTimeout(total=5)) as reply:
                headers = {h: reply.headers[h] for h in PASSED_ON if h in reply.headers}
                return view.bytes(await reply.read(), content_type="application/json", status=reply.status,
                                  headers=headers)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return view.json({"error": "partition owner unreachable", "owner": owner_url,
                          "hint": f"the workers are rebalancing ({type(exc).__name__}); retry in a few seconds"},
                         status=503, headers={"Retry-After": "2"})
