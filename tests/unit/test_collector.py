"""The HTTP collector's pure logic: request bodies in, raw messages (or a refusal) out."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiohttp import ClientSession, web

from pipeline.collector.auth import check_write_key, write_key_of
from pipeline.collector.body import MAX_BODY_BYTES, check_encoding, check_gzip_header, gunzip
from pipeline.collector.errors import Refused
from pipeline.collector.logic import Accepted, Message, native_request, segment_request, stamp
from pipeline.collector.routes import read_body, refuse_method, serve_json_errors
from pipeline.ingest.logic import IngestConfig, ingest_one
from pipeline.ingest.outcomes import DeadLetter
from pipeline.settings import Settings

RECEIVED = datetime(2026, 11, 3, 10, 15, 22, 120000, tzinfo=UTC)
RECEIVED_ISO = "2026-11-03T10:15:22.120Z"
KEYS = ("key-a", "key-b")


def basic(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def batch(body: Any, auth: str | None = None, allowed: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return [orjson.loads(m.value) for m in segment_request(raw, None, auth, allowed, RECEIVED).messages]


def single(kind: str, body: dict[str, Any]) -> dict[str, Any]:
    (message,) = segment_request(orjson.dumps(body), kind, None, (), RECEIVED).messages
    return orjson.loads(message.value)  # type: ignore[no-any-return]


def refused(call: Any, *args: Any) -> Refused:
    with pytest.raises(Refused) as caught:
        call(*args)
    return caught.value


# --- write keys -------------------------------------------------------------------------

def test_write_keys_setting_is_a_comma_list_kept_out_of_repr(tmp_path: Path) -> None:
    env = {"PARCOURS_DATA_DIR": str(tmp_path), "PARCOURS_PII_SALT": "x", "PARCOURS_WRITE_KEYS": " key-a, key-b ,,"}
    settings = Settings.from_env(env, dotenv=tmp_path / "none.env")
    assert settings.write_keys == KEYS and "key-a" not in repr(settings)
    assert Settings.from_env({**env, "PARCOURS_WRITE_KEYS": ""}, dotenv=tmp_path / "none.env").write_keys == ()


def test_write_key_from_basic_auth_user_name_password_ignored() -> None:
    assert write_key_of(basic("key-a")) == "key-a"
    assert write_key_of(basic("key-a", "whatever"), "body-key") == "key-a"


@pytest.mark.parametrize("header", [None, "", "Bearer xyz", "Basic !!!not-base64", basic("")])
def test_write_key_falls_back_to_body(header: str | None) -> None:
    assert write_key_of(header, "body-key") == "body-key"
    assert write_key_of(header, None) is None
    assert write_key_of(header, 42) is None


def test_no_configured_keys_accepts_anything() -> None:
    check_write_key(None, ())
    check_write_key("any", ())


def test_configured_keys_refuse_missing_and_wrong_keys_with_a_hint() -> None:
    check_write_key("key-b", KEYS)
    missing = refused(check_write_key, None, KEYS)
    wrong = refused(check_write_key, "key-c", KEYS)
    assert (missing.status, missing.code) == (401, "missing_write_key")
    assert (wrong.status, wrong.code) == (401, "invalid_write_key")
    assert "PARCOURS_WRITE_KEYS" in wrong.hint
    assert wrong.reply() == {"success": False, "code": "invalid_write_key", "message": wrong.message,
                             "hint": wrong.hint}
    assert "key-c" not in orjson.dumps(wrong.reply()).decode()  # never echoed into client logs


def test_batch_write_key_in_body_or_header() -> None:
    body = {"writeKey": "key-a", "batch": [{"type": "page", "anonymousId": "a"}]}
    assert len(batch(body, None, KEYS)) == 1
    assert len(batch({"batch": []}, basic("key-b"), KEYS)) == 0
    assert refused(batch, {"writeKey": "nope", "batch": []}, None, KEYS).status == 401
    assert refused(batch, {"batch": []}, basic("nope"), KEYS).status == 401


def test_write_key_is_kept_off_kafka() -> None:
    (message,) = batch({"writeKey": "key-a", "batch": [{"type": "page", "anonymousId": "a", "writeKey": "key-a"}]})
    assert "writeKey" not in message
    assert "writeKey" not in single("track", {"event": "x", "writeKey": "key-a"})


# --- Segment envelope ---------------------------------------------------------------------

def test_single_message_endpoint_sets_type_from_path() -> None:
    message = single("identify", {"type": "track", "userId": "u-1", "timestamp": "2026-11-03T09:00:00Z"})
    assert message == {"type": "identify", "userId": "u-1", "timestamp": "2026-11-03T09:00:00Z",
                       "receivedAt": RECEIVED_ISO}


def test_batch_context_integrations_and_sent_at_merged_message_wins() -> None:
    body = {"context": {"locale": "fr-FR", "ip": "1.2.3.4"}, "integrations": {"All": False},
            "sentAt": "2026-11-03T10:15:00Z",
            "batch": [{"type": "track", "event": "x", "context": {"locale": "de-DE"}},
                      {"type": "page", "integrations": {"Mixpanel": True}, "sentAt": "2026-11-03T10:14:00Z"}]}
    first, second = batch(body)
    assert first["context"] == {"locale": "de-DE", "ip": "1.2.3.4"}
    assert first["integrations"] == {"All": False} and first["sentAt"] == "2026-11-03T10:15:00Z"
    assert second["context"] == {"locale": "fr-FR", "ip": "1.2.3.4"}
    assert second["integrations"] == {"All": False, "Mixpanel": True}
    assert second["sentAt"] == "2026-11-03T10:14:00Z"


def test_batch_items_that_are_not_objects_are_passed_on_for_ingest_to_dead_letter() -> None:
    messages = segment_request(b'{"batch": [1, "x", {"type": "page"}]}', None, None, (), RECEIVED).messages
    assert [m.value for m in messages[:2]] == [b"1", b'"x"']
    cfg = IngestConfig.build(b"salt")
    assert ingest_one(messages[0].value, cfg).code == "not_an_object"  # type: ignore[union-attr]


def test_partition_key_is_anonymous_id_then_user_id_then_message_id() -> None:
    body = {"batch": [{"anonymousId": "a", "userId": "u", "messageId": "m"}, {"userId": "u", "messageId": "m"},
                      {"messageId": "m", "anonymousId": None}, {"type": "page"}]}
    keys = [m.key for m in segment_request(orjson.dumps(body), None, None, (), RECEIVED).messages]
    assert keys == [b"a", b"u", b"m", None]


# --- Segment's server clock -----------------------------------------------------------------

@pytest.mark.parametrize("message", [
    {},
    {"timestamp": "2026-11-01T00:00:00Z", "originalTimestamp": "2026-11-02T00:00:00Z", "sentAt": "2026-11-03T00:00:00Z"},
    {"originalTimestamp": "2026-11-03T10:59:00+01:00", "sentAt": "2026-11-03T11:00:00+01:00"},
    {"originalTimestamp": "yesterday", "sentAt": "2026-11-03T00:00:00Z"},
])
def test_stamp_sets_received_at_and_leaves_the_event_time_to_ingest(message: dict[str, Any]) -> None:
    # ingest reads the time from these (tests/unit/test_segment.py); a `timestamp` written here
    # would differ on every retry and give a message without messageId another derived id
    before = dict(message)
    stamp(message, RECEIVED)
    assert message == {**before, "receivedAt": RECEIVED_ISO}


# --- bodies ---------------------------------------------------------------------------------

def test_gzip_body_decoded_whatever_the_header_said() -> None:
    body = {"batch": [{"type": "page", "anonymousId": "a"}]}
    assert batch(gzip.compress(orjson.dumps(body)))[0]["anonymousId"] == "a"
    assert gunzip(b'{"plain": 1}') == b'{"plain": 1}'


def test_bad_gzip_is_400_and_a_gzip_bomb_is_413() -> None:
    assert refused(gunzip, b"\x1f\x8b" + b"garbage").code == "invalid_gzip"
    assert refused(gunzip, gzip.compress(b'{"batch": []}')[:-12]).code == "invalid_gzip"  # truncated
    bomb = gzip.compress(b" " * (MAX_BODY_BYTES * 20))
    assert len(bomb) < 10_000
    assert (refused(gunzip, bomb).status, refused(gunzip, bomb).code) == (413, "body_too_large")
    assert refused(gunzip, b" " * (MAX_BODY_BYTES + 1)).status == 413


def test_every_gzip_member_is_read_and_the_size_limit_bounds_their_total() -> None:
    # `cat a.gz b.gz`: one gzip file of two members (RFC 1952, 2.2), read whole by gzip.decompress
    lines = [orjson.dumps(event("e-1")), orjson.dumps(event("e-2"))]
    body = gzip.compress(lines[0] + b"\n") + gzip.compress(lines[1])
    assert gzip.decompress(body) == lines[0] + b"\n" + lines[1]
    assert [m.key for m in native_request(body, None, ()).messages] == [b"e-1", b"e-2"]
    json_body = orjson.dumps({"batch": [{"type": "page", "anonymousId": "a"}, {"type": "track", "anonymousId": "b"}]})
    split = gzip.compress(json_body[:30]) + gzip.compress(b"") + gzip.compress(json_body[30:])
    assert [m["anonymousId"] for m in batch(split)] == ["a", "b"]
    assert gunzip(gzip.compress(b"ab") + gzip.compress(b"cd") + b"\0" * 8) == b"abcd"  # NUL padding, as gzip(1)
    half = gzip.compress(b" " * (MAX_BODY_BYTES // 2 + 1))  # each member under the limit, not the total
    assert (refused(gunzip, half + half).status, refused(gunzip, half + half).code) == (413, "body_too_large")
    assert gunzip(gzip.compress(b" " * (MAX_BODY_BYTES - 1)) + gzip.compress(b" ")) == b" " * MAX_BODY_BYTES


@pytest.mark.parametrize("trailing", [b"junk", b"\n", b"\x1f", b"\0\0x"])
def test_bytes_after_the_gzip_data_that_are_no_member_are_a_400_with_a_hint(trailing: bytes) -> None:
    error = refused(segment_request, gzip.compress(b'{"batch": []}') + trailing, None, None, (), RECEIVED)
    assert (error.status, error.code) == (400, "invalid_gzip")
    assert f"{len(trailing)} bytes after the gzip data" in error.message and "gzip members" in error.hint
    assert refused(gunzip, gzip.compress(b"ab") + gzip.compress(b"cd")[:-4]).code == "invalid_gzip"  # cut


@pytest.mark.parametrize(("body", "code", "words"), [
    (b"", "empty_body", "empty"),
    (b"  \n", "empty_body", "empty"),
    (b'{"batch": [', "invalid_json", "not valid JSON"),
    (b"[1, 2]", "invalid_body", "expected a JSON object, got list"),
    (b'{"batch": {"type": "page"}}', "invalid_batch", '"batch" must be an array'),
    (b'{"events": []}', "invalid_batch", '"batch" must be an array'),
])
def test_malformed_batch_is_400_with_a_clear_message(body: bytes, code: str, words: str) -> None:
    error = refused(segment_request, body, None, None, (), RECEIVED)
    assert (error.status, error.code) == (400, code)
    assert words in error.message and error.hint


def test_malformed_single_message_is_400() -> None:
    assert refused(segment_request, b'"x"', "track", None, (), RECEIVED).code == "invalid_body"
    assert refused(segment_request, b"{oops", "page", None, (), RECEIVED).code == "invalid_json"


def test_bad_key_checked_after_the_envelope_parses() -> None:
    assert refused(segment_request, b"{}", "track", basic("nope"), KEYS, RECEIVED).status == 401


# --- native events --------------------------------------------------------------------------

def event(event_id: str) -> dict[str, Any]:
    return {"event_id": event_id, "event_type": "page_view", "occurred_at": "2026-11-03T10:00:00Z",
            "channel": "web", "identifiers": {"anonymous_id": "a"}}


def test_native_json_array_one_message_per_event_keyed_by_event_id() -> None:
    accepted = native_request(orjson.dumps([event("e-1"), event("e-2")]), None, ())
    assert [m.key for m in accepted.messages] == [b"e-1", b"e-2"]
    assert orjson.loads(accepted.messages[0].value) == event("e-1")


def test_native_ndjson_lines_exactly_as_sent_blank_lines_skipped() -> None:
    line = orjson.dumps(event("e-1"))
    body = line + b"\r\n\n  \nnot json\n" + orjson.dumps(event("e-2"))
    accepted = native_request(gzip.compress(body), None, ())
    assert [m.value for m in accepted.messages] == [line, b"not json", orjson.dumps(event("e-2"))]
    assert [m.key for m in accepted.messages] == [b"e-1", None, b"e-2"]


def test_native_requires_a_write_key_in_the_header_before_reading_the_body() -> None:
    assert refused(native_request, b"garbage", None, KEYS).status == 401
    assert native_request(orjson.dumps([event("e-1")]), basic("key-a"), KEYS).messages
    assert refused(native_request, b" ", None, ()).code == "empty_body"
    assert refused(native_request, b"[1,", None, ()).code == "invalid_json"


# --- the reply ------------------------------------------------------------------------------

def test_reply_is_segment_success_with_count_and_oversize_warnings() -> None:
    small, big = Message(b"k", b"{}"), Message(b"k", b"x" * (64 * 1024 + 1))
    assert Accepted([small]).reply() == {"success": True, "messages": 1}
    reply = Accepted([small, big]).reply()
    assert reply["success"] is True and reply["messages"] == 2
    assert len(reply["warnings"]) == 1 and reply["warnings"][0].startswith("message 1: 65,537 bytes")


# --- through ingest -------------------------------------------------------------------------

def test_batch_context_traits_reach_ingest_as_a_hashed_email() -> None:
    body = {"context": {"traits": {"email": "Jane@Example.com"}}, "sentAt": "2026-11-03T10:15:00Z",
            "batch": [{"type": "track", "event": "Order Completed", "userId": "u-1", "messageId": "m-1",
                       "originalTimestamp": "2026-11-03T10:14:00Z", "properties": {"revenue": 12.5}}]}
    (message,) = segment_request(orjson.dumps(body), None, None, (), RECEIVED).messages
    out = ingest_one(message.value, IngestConfig.build(b"salt"), int(RECEIVED.timestamp() * 1000))
    assert isinstance(out, dict), out
    assert out["event_type"] == "purchase" and out["revenue"] == 12.5
    assert out["occurred_at"] == int(RECEIVED.timestamp() * 1000) - 60_000  # received - (sent - original)
    assert set(out["identifiers"]) == {"user_id", "email"}
    assert b"jane@example.com" not in orjson.dumps(out).lower()


# --- values only Python's json reads ---------------------------------------------------------

def track(i: int, revenue: float = 10.0, **properties: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Order Completed", "userId": "u-1", "messageId": f"m-{i}",
            "timestamp": "2026-11-03T10:00:00Z", "properties": {"revenue": revenue, **properties}}


def python_sdk_body(messages: list[dict[str, Any]]) -> bytes:
    return json.dumps({"batch": messages, "sentAt": "2026-11-03T10:15:00Z"}).encode()  # what the SDK sends


@pytest.mark.parametrize(("bad", "literal", "said"), [
    (float("nan"), b"NaN", "properties.revenue is NaN"),
    (float("-inf"), b"-Infinity", "properties.revenue is -Infinity"),
    (1e400, b"Infinity", "properties.revenue is Infinity or a number beyond"),  # json.loads('1e400') is inf
])
def test_a_non_finite_number_costs_its_message_not_the_batch(bad: float, literal: bytes, said: str) -> None:
    body = python_sdk_body([track(i) for i in range(10)] + [track(10, bad)] + [track(i) for i in range(11, 21)])
    if bad == 1e400:
        body = body.replace(b"Infinity", b"1e400")
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(body)
    accepted = segment_request(body, None, None, (), RECEIVED)
    assert len(accepted.messages) == 21
    (warning,) = accepted.reply()["warnings"]
    assert warning.startswith(f"message 10: {said}") and "dead letter" in warning and "not_json" in warning
    outs = [ingest_one(m.value, IngestConfig.build(b"salt"), int(RECEIVED.timestamp() * 1000))
            for m in accepted.messages]
    assert [o["event_id"] for o in outs if isinstance(o, dict)] == [f"m-{i}" for i in range(21) if i != 10]
    dead = outs[10]
    assert isinstance(dead, DeadLetter) and dead.code == "not_json"
    assert f"{literal.decode().removeprefix('-')} is not a JSON number" in dead.reason, dead.reason
    assert literal in accepted.messages[10].value  # not null: orjson would have made the revenue 0
    # the valid messages are produced exactly as from a body orjson reads
    clean = segment_request(python_sdk_body([track(0)]), None, None, (), RECEIVED).messages[0]
    assert accepted.messages[0] == clean


def test_a_lone_surrogate_costs_its_message_and_warnings_mask_pii() -> None:
    body = python_sdk_body([track(0, name="\ud800"), track(1), {**track(2), "traits": {"jane@x.com": float("nan")}}])
    accepted = segment_request(body, None, None, (), RECEIVED)
    assert [m.key for m in accepted.messages] == [b"u-1"] * 3
    warnings = accepted.reply()["warnings"]
    assert [w.split(":")[0] for w in warnings] == ["message 0", "message 2"]
    assert "properties.name holds a lone UTF-16 surrogate" in warnings[0]
    assert warnings[1].startswith("message 2: traits.[email] is NaN") and "jane" not in warnings[1]
    orjson.dumps(accepted.reply())  # the reply itself is valid JSON
    cfg = IngestConfig.build(b"salt")
    dead = ingest_one(accepted.messages[0].value, cfg)
    assert isinstance(dead, DeadLetter) and dead.reason.startswith("not_json: no low surrogate"), dead
    assert isinstance(ingest_one(accepted.messages[1].value, cfg, int(RECEIVED.timestamp() * 1000)), dict)


def test_the_fallback_also_splits_single_messages_and_native_arrays() -> None:
    one = segment_request(json.dumps(track(0, float("nan"))).encode(), "track", None, (), RECEIVED)
    assert len(one.messages) == 1 and one.reply()["warnings"][0].startswith("message 0: properties.revenue is NaN")
    array = native_request(json.dumps([event("e-1"), {**event("e-2"), "properties": {"revenue": float("nan")}}])
                           .encode(), None, ())
    assert [m.key for m in array.messages] == [b"e-1", b"e-2"]
    assert array.messages[0].value == orjson.dumps(event("e-1")) and b"NaN" in array.messages[1].value
    assert len(array.reply()["warnings"]) == 1
    big = native_request(b'[{"event_id": "e-1", "n": 18446744073709551616}, {"x": NaN}]', None, ())
    assert orjson.loads(big.messages[0].value)["n"] == 2.0**64  # as orjson reads a number that large


@pytest.mark.parametrize("body", [b'{"batch": [NaN', b'{"batch": [nan]}', b'{"batch": [1]}x',
                                  b'{"batch": ["caf\xe9"]}', b"[" * 5000 + b"]" * 5000])
def test_a_body_not_json_even_for_python_stays_a_400(body: bytes) -> None:
    error = refused(segment_request, body, None, None, (), RECEIVED)
    assert (error.status, error.code) == (400, "invalid_json") and "not valid JSON" in error.message


# --- the web server: encodings and errors in the collector's JSON shape ---------------------

def test_content_encoding_other_than_gzip_is_415_before_the_body_is_read() -> None:
    for header in ("br", "zstd", "deflate", "gzip, br"):
        error = refused(check_encoding, header)
        assert (error.status, error.code) == (415, "unsupported_encoding") and "gzip" in error.hint
    assert [check_encoding(h) for h in (None, "", "identity", " GZIP ", "x-gzip")] == ["", "", "identity", "gzip",
                                                                                       "x-gzip"]
    assert refused(check_gzip_header, b'{"batch": []}', "gzip").code == "invalid_gzip"
    assert check_gzip_header(b'{"batch": []}', "") == b'{"batch": []}'


def serve(routes: list[tuple[str, str]]) -> Callable[..., Any]:
    """A real aiohttp server set up as the collector's (serve_json_errors), whose POST routes
    answer as a collector view does; returns `request(method, path, body, **headers)`."""
    async def collect(request: web.Request) -> web.Response:
        try:
            body = gunzip(await read_body(request))
        except Refused as error:
            log.warning("collector refused %s: %s", request.path, error.code)  # as the view does
            return web.json_response(error.reply(), status=error.status)
        return web.json_response({"success": True, "bytes": len(body)})

    async def refuse_head(request: web.Request) -> web.Response:
        return refuse_method(request, ["POST"])

    def request(method: str, path: str, body: bytes = b"", **headers: str) -> tuple[int, str, dict[str, Any]]:
        async def run() -> tuple[int, str, dict[str, Any]]:
            app = web.Application()
            for verb, route in routes:
                app.router.add_route(verb, route, collect)
                if verb == "POST":  # as Faust does for every view; the collector's refuses it
                    app.router.add_route("HEAD", route, refuse_head)
            runner = web.AppRunner(app)
            serve_json_errors(SimpleNamespace(_runner=runner, web_app=app))
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            try:
                async with ClientSession(auto_decompress=False) as session, session.request(
                        method, f"http://127.0.0.1:{port}{path}", data=body, headers=headers) as reply:
                    if method == "HEAD":  # no body: what the client learns is in the headers
                        return reply.status, reply.content_type, {"allow": reply.headers.get("Allow")}
                    return reply.status, reply.content_type, {**await reply.json(), "allow": reply.headers.get("Allow")}
            finally:
                await runner.cleanup()
        return asyncio.run(run())

    return request


log = logging.getLogger("pipeline.collector.routes")


def test_server_answers_every_error_in_the_collector_json_shape(caplog: pytest.LogCaptureFixture) -> None:
    request = serve([("POST", "/v1/track")])
    body = orjson.dumps({"type": "track"})
    cases = {
        "br": request("POST", "/v1/track", body, **{"Content-Encoding": "br"}),
        "gzip_lie": request("POST", "/v1/track", body, **{"Content-Encoding": "gzip"}),
        "bad_gzip": request("POST", "/v1/track", b"\x1f\x8bgarbage", **{"Content-Encoding": "gzip"}),
        "unknown": request("POST", "/v2/nothing", body),
        "method": request("GET", "/v1/track"),
    }
    expected = {"br": (415, "unsupported_encoding"), "gzip_lie": (400, "invalid_gzip"),
                "bad_gzip": (400, "invalid_gzip"), "unknown": (404, "not_found"), "method": (405, "method_not_allowed")}
    for case, (status, content_type, reply) in cases.items():
        assert (status, reply["code"]) == expected[case], (case, reply)
        assert content_type == "application/json" and reply["success"] is False and reply["hint"], case
    assert "/v1/batch" in cases["unknown"][2]["hint"] and cases["method"][2]["hint"].startswith("use POST;")
    # what the 405 names is what is accepted: HEAD is refused too where there is no GET
    assert cases["method"][2]["allow"] == "POST" and request("HEAD", "/v1/track")[::2] == (405, {"allow": "POST"})
    assert request("POST", "/v1/track", gzip.compress(body), **{"Content-Encoding": "gzip"})[2] == {
        "success": True, "bytes": len(body), "allow": None}
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]  # no traceback


def test_group_endpoint_passes_the_message_on_and_says_it_becomes_a_dead_letter() -> None:
    accepted = segment_request(orjson.dumps({"userId": "u-1", "groupId": "g-1"}), "group", None, (), RECEIVED)
    (message,) = [orjson.loads(m.value) for m in accepted.messages]
    assert message["type"] == "group" and message["groupId"] == "g-1"
    assert accepted.reply()["success"] is True
    assert "segment_unknown_type" in accepted.reply()["warnings"][0]
    assert batch_reply({"batch": [{"type": "group"}, {"type": "track"}]})["warnings"] == [
        "message 0: type 'group' is not mapped: it becomes a dead letter (parcours.dead_letters, "
        "reason segment_unknown_type)"]
    assert "warnings" not in batch_reply({"batch": [{"type": "page"}, {"event_type": "x"}, 3]})


def batch_reply(body: dict[str, Any]) -> dict[str, Any]:
    return segment_request(orjson.dumps(body), None, None, (), RECEIVED).reply()


def test_a_utf8_byte_order_mark_opens_the_body_and_is_no_part_of_it() -> None:
    bom = b"\xef\xbb\xbf"
    ndjson = native_request(bom + orjson.dumps(event("e-1")) + b"\n" + orjson.dumps(event("e-2")), None, ())
    assert [m.key for m in ndjson.messages] == [b"e-1", b"e-2"]  # the first event is no dead letter
    array = native_request(gzip.compress(bom + orjson.dumps([event("e-1"), event("e-2")])), None, ())
    assert [m.key for m in array.messages] == [b"e-1", b"e-2"]  # an array, not one bad line
    assert [m["type"] for m in batch(bom + orjson.dumps({"batch": [{"type": "track"}]}))] == ["track"]
    (message,) = segment_request(bom + orjson.dumps({"userId": "u-1"}), "identify", None, (), RECEIVED).messages
    assert orjson.loads(message.value)["userId"] == "u-1"
