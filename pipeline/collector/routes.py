"""The collector's web views on PARCOURS_HTTP_PORT (Faust's web server, every worker).

  POST /v1/batch                              Segment/RudderStack batch: {"batch": [...], ...}
  POST /v1/{track,identify,page,screen,alias}  one Segment-spec message
  POST /v1/events                             Parcours events: a JSON array, or NDJSON

A view reads the body (bounded), lets logic.py split it, produces the messages to the raw
topic and replies `{"success": true}` only once Kafka has acknowledged every one of them
(at-least-once: an SDK that gets 200 may forget its batch). A refused request produces
nothing; a Kafka failure is a 503, which the SDKs retry (duplicates are removed by
messageId / event_id downstream).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

import faust
from aiohttp import web
from confluent_kafka import KafkaError, Producer
from faust.web import Request, Response, View

from pipeline.collector.body import MAX_BODY_BYTES, check_size
from pipeline.collector.errors import Refused
from pipeline.collector.logic import SEGMENT_TYPES, Accepted, Message, native_request, segment_request
from pipeline.runtime import Runtime
from pipeline.topics import partition_of

log = logging.getLogger(__name__)

#: Seconds a request waits for Kafka's acknowledgements (the SDKs time out after 15 s).
ACK_TIMEOUT_S = 10.0
READ_CHUNK = 64 * 1024

Split = Callable[[bytes, str | None], Accepted]


def register(app: faust.App, rt: Runtime) -> None:
    allowed = rt.settings.write_keys

    def segment(kind: str | None) -> Split:
        return lambda body, auth: segment_request(body, kind, auth, allowed, datetime.now(UTC))

    for kind in (*SEGMENT_TYPES, None):
        name = kind or "batch"
        app.page(f"/v1/{name}", name=f"collector-{name}")(_view(rt, segment(kind)))
    app.page("/v1/events", name="collector-events")(
        _view(rt, lambda body, auth: native_request(body, auth, allowed)))


def _view(rt: Runtime, split: Split) -> type[View]:
    class Collect(View):
        async def post(self, request: Request) -> Response:
            try:
                accepted = split(await read_body(request), request.headers.get("Authorization"))
                await deliver(rt, accepted.messages)
            except Refused as refused:
                log.info("collector refused %s: %s %s", request.rel_url.path, refused.status, refused.code)
                headers = {"WWW-Authenticate": 'Basic realm="parcours"'} if refused.status == 401 else None
                return self.json(refused.reply(), status=refused.status, headers=headers)
            return self.json(accepted.reply())

    return Collect


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body (aiohttp has already undone `Content-Encoding: gzip`), read no further than
    `limit` + 1 bytes: an oversized or endless body is refused without being held."""
    raw = cast(web.Request, request)
    if raw.content_length is not None and raw.content_length > limit:
        raise Refused(413, "body_too_large", f"Content-Length {raw.content_length:,} is over {limit:,} bytes",
                      "send smaller batches (RudderStack SDK: lower upload_size)")
    chunks: list[bytes] = []
    size = 0
    try:
        while size <= limit and (chunk := await raw.content.read(READ_CHUNK)):
            chunks.append(chunk)
            size += len(chunk)
    except web.RequestPayloadError as exc:  # e.g. `Content-Encoding: gzip` on a body that is not
        raise Refused(400, "unreadable_body", f"the body could not be decoded ({exc})",
                      "send the body as its Content-Encoding says (gzip or none)") from None
    return check_size(b"".join(chunks), limit)


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
