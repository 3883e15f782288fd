"""The collector's web views on PARCOURS_HTTP_PORT (Faust's web server, every worker).

  POST /v1/batch                              Segment/RudderStack batch: {"batch": [...], ...}
  POST /v1/{track,identify,page,screen,alias}  one Segment-spec message
  POST /v1/group                              accepted; ingest dead-letters it (no mapping), the reply says so
  POST /v1/events                             Parcours events: a JSON array, or NDJSON
  POST /v1/{t,i,p,s,a,g}                      analytics.js's short names for the single messages

The /v1/ routes answer browsers too (CORS): analytics.js posts from the shop's own origin, and
a reply the browser hides from it looks like a network failure, which it retries forever.
Write keys, not origins, say who may send.

A view reads the body (bounded), lets logic.py split it, produces the messages to the raw
topic and replies `{"success": true}` only once Kafka has acknowledged every one of them
(at-least-once: an SDK that gets 200 may forget its batch). A refused request produces
nothing; a Kafka failure is a 503, which the SDKs retry (duplicates are removed by
messageId / event_id downstream).

Every error of this web server, an unknown route (404) or method (405) included, has the
collector's JSON shape (errors.py); bodies are decoded here, not by aiohttp (see `register`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, cast

import faust
import orjson
from aiohttp import web
from confluent_kafka import KafkaError, Producer
from faust.web import Request, Response, View

from pipeline.collector.auth import check_write_key, write_key_of
from pipeline.collector.body import MAX_BODY_BYTES, check_encoding, check_gzip_header, check_size
from pipeline.collector.errors import Refused
from pipeline.collector.logic import (
    SEGMENT_TYPES,
    UNMAPPED_TYPES,
    Accepted,
    Message,
    native_request,
    segment_request,
)
from pipeline.runtime import Runtime
from pipeline.topics import partition_of

log = logging.getLogger(__name__)

#: Seconds a request waits for Kafka's acknowledgements (the SDKs time out after 15 s).
ACK_TIMEOUT_S = 10.0
READ_CHUNK = 64 * 1024

Split = Callable[[bytes, str | None], Accepted]


#: analytics.js (analytics-next) posts each message to the first letter of its type.
SHORT_NAMES = {"t": "track", "i": "identify", "p": "page", "s": "screen", "a": "alias", "g": "group"}
CORS = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT = {**CORS, "Access-Control-Allow-Methods": "POST",
             "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding",
             "Access-Control-Max-Age": "86400"}

#: Seconds a client is asked to wait after a 503 (Kafka did not acknowledge): the SDKs back off
#: on their own; a hand-written client reads this.
RETRY_AFTER_S = 5
ENDPOINTS_HINT = ("the collector takes POST /v1/batch, /v1/{track,identify,page,screen,alias,group} and "
                  "/v1/events (README: Sending events over HTTP)")


def register(app: faust.App, rt: Runtime) -> None:
    allowed = rt.settings.write_keys
    serve_json_errors(cast(Any, app.web))

    def segment(kind: str | None) -> Split:
        return lambda body, auth: segment_request(body, kind, auth, allowed, datetime.now(UTC))

    for kind in (*SEGMENT_TYPES, *UNMAPPED_TYPES, None):
        name = kind or "batch"
        app.page(f"/v1/{name}", name=f"collector-{name}")(_view(rt, segment(kind)))
    for short, kind in SHORT_NAMES.items():
        app.page(f"/v1/{short}", name=f"collector-{short}")(_view(rt, segment(kind)))
    app.page("/v1/events", name="collector-events")(
        _view(rt, lambda body, auth: native_request(body, auth, allowed)))


def _view(rt: Runtime, split: Split) -> type[View]:
    class Collect(View):
        async def head(self, request: Request) -> Response:  # Faust's would answer it with a GET
            return cast(Response, refuse_method(cast(web.Request, request), ["POST"]))

        async def post(self, request: Request) -> Response:
            try:
                if rt.closing.is_set():
                    raise Refused(503, "stopping", "Parcours is stopping", "send it again once it is back up "
                                  "(the SDKs retry on their own)")
                # a key in the header is judged before the body is read: a stranger learns
                # nothing from a 400 or 413 about a body the collector would refuse anyway
                header_key = write_key_of(request.headers.get("Authorization"))
                if header_key is not None:
                    check_write_key(header_key, rt.settings.write_keys)
                accepted = split(await read_body(request), request.headers.get("Authorization"))
                await deliver(rt, accepted.messages)
            except Refused as refused:
                rt.stats.collector_requests[refused.code] += 1
                if refused.status < 500:  # 5xx: deliver() has logged why
                    # one line, no traceback: nothing of the request was produced, the SDK drops it
                    log.warning("collector refused POST %s: %s %s (%s)", request.rel_url.path, refused.status,
                                refused.code, refused.message)
                headers = ({"WWW-Authenticate": 'Basic realm="parcours"'} if refused.status == 401
                           else {"Retry-After": str(RETRY_AFTER_S)} if refused.status == 503 else None)
                return self.json(refused.reply(), status=refused.status, headers=headers)
            rt.stats.collector_requests["accepted"] += 1
            rt.stats.collector_messages += len(accepted.messages)
            return self.json(accepted.reply())

    return Collect


def serve_json_errors(driver: Any) -> None:
    """Faust's aiohttp server, made to answer as the collector does.

    - Bodies arrive as sent: aiohttp would otherwise decode Content-Encoding itself, answer an
      encoding it lacks (br without Brotli) with a plain-text 400 before any view runs, and log
      a traceback for a bad gzip body. body.py decodes gzip (bounded) and refuses the rest.
    - An unknown route or method gets the collector's JSON error (404 / 405), not aiohttp's text.
    """
    # Faust builds its AppRunner without a way to pass server options; these kwargs reach
    # aiohttp's RequestHandler when the server starts (after this, in Faust's on_start).
    driver._runner._kwargs["auto_decompress"] = False
    driver.web_app.middlewares.append(cross_origin)  # the outer one: errors get its headers too
    driver.web_app.middlewares.append(json_errors)


@web.middleware
async def cross_origin(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                       ) -> web.StreamResponse:
    """CORS on the collector's routes (see the module's doc); a preflight is answered here."""
    if not request.path.startswith("/v1/"):
        return await handler(request)
    if request.method == "OPTIONS":
        return web.Response(status=204, headers=PREFLIGHT)
    response = await handler(request)
    response.headers.update(CORS)
    return response


@web.middleware
async def json_errors(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                      ) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPNotFound:
        refused = Refused(404, "not_found", f"no endpoint at {request.method} {request.path}", ENDPOINTS_HINT)
        return web.json_response(refused.reply(), status=404, dumps=_compact)
    except web.HTTPMethodNotAllowed as exc:
        return refuse_method(request, exc.allowed_methods)


def refuse_method(request: web.Request, registered: Iterable[str]) -> web.Response:
    """405 naming the methods the route answers. Faust registers HEAD for every view and
    answers it with the view's GET, so HEAD is one only where GET is."""
    methods = set(registered)
    if "GET" not in methods:
        methods.discard("HEAD")
    allowed = ", ".join(sorted(methods))
    refused = Refused(405, "method_not_allowed", f"{request.path} does not take {request.method}",
                      f"use {allowed}" + (f"; {ENDPOINTS_HINT}" if request.path.startswith("/v1/") else ""))
    return web.json_response(refused.reply(), status=405, headers={"Allow": allowed}, dumps=_compact)


def _compact(value: object) -> str:
    """JSON as the collector's other replies write it (no spaces)."""
    return orjson.dumps(value).decode()


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body as sent (gzip is undone by logic.py), read no further than `limit` + 1 bytes:
    an oversized or endless body is refused without being held; an encoding the collector
    cannot undo is refused before the body is read."""
    raw = cast(web.Request, request)
    encoding = check_encoding(raw.headers.get("Content-Encoding"))
    if raw.content_length is not None and raw.content_length > limit:
        raise Refused(413, "body_too_large", f"Content-Length {raw.content_length:,} is over {limit:,} bytes",
                      "send smaller batches (RudderStack SDK: lower upload_size)")
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= limit and (chunk := await raw.content.read(READ_CHUNK)):
            chunks.append(chunk)
            size += len(chunk)
    except web.RequestPayloadError as exc:  # e.g. a broken chunked transfer encoding
        raise Refused(400, "unreadable_body", f"the body could not be read ({exc})",
                      "send the whole body, with a correct Content-Length or chunked encoding") from None
    return check_gzip_header(check_size(b"".join(chunks), limit), encoding)


class _Acks:
    """Counts the acknowledgements of one request's messages. librdkafka calls back from
    whichever thread polls the collector's producer, hence the lock."""

    def __init__(self, count: int) -> None:
        self.left, self.done = count, threading.Event()
        self.errors: list[str] = []
        self._lock = threading.Lock()
        if count == 0:
            self.done.set()

    def __call__(self, err: KafkaError | None, _msg: object) -> None:
        with self._lock:
            if err is not None:
                self.errors.append(str(err))
            self.left -= 1
            if self.left <= 0:
                self.done.set()


async def deliver(rt: Runtime, messages: list[Message]) -> None:
    """Produce to the raw topic and wait for every acknowledgement; Refused(503) if not."""
    acks = _Acks(len(messages))
    raw = rt.topics.raw
    for message in messages:
        # keyless (a non-object batch item): spread by content, deterministically
        spread = (message.key or message.value[:256]).decode(errors="replace")
        _produce(rt.acked_producer, raw.name, message, partition_of(spread, raw.partitions), acks)
    if not await asyncio.to_thread(_wait, rt.acked_producer, acks, ACK_TIMEOUT_S) or acks.errors:
        failed = len(acks.errors) + max(acks.left, 0)
        reason = acks.errors[0] if acks.errors else f"no answer within {ACK_TIMEOUT_S:.0f}s"
        log.warning("collector: %d of %d messages not acknowledged by Kafka: %s", failed, len(messages), reason)
        raise Refused(503, "kafka_unavailable", f"{failed} of {len(messages)} messages not acknowledged by "
                      f"Kafka ({reason})", "retry later (the SDKs do); is the broker up? see PARCOURS_KAFKA_BOOTSTRAP")


def _produce(prod: Producer, topic: str, message: Message, partition: int, acks: _Acks) -> None:
    while True:
        try:
            prod.produce(topic, value=message.value, key=message.key, partition=partition, on_delivery=acks)
            return
        except BufferError:  # the local queue is full: let it drain
            prod.poll(0.05)


def _wait(prod: Producer, acks: _Acks, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not acks.done.is_set() and time.monotonic() < deadline:
        prod.poll(0.05)
    return acks.done.is_set()
