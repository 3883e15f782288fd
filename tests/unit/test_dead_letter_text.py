"""What `parcours.dead_letters` keeps of a rejected message: its text with anything that looks
like an email or a phone number masked, also behind JSON escapes, then cut to 64 Ki characters
(pipeline/ingest/pii.py: dead_letter_text, masked_through_escapes; the DLQ topic keeps the bytes)."""

from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest.outcomes import DeadLetter
from pipeline.ingest.pii import DEAD_LETTER_CHARS, dead_letter_text, masked_through_escapes
from tests.unit.ingest_cases import base, run, without

LEAKS = ("esc.leak", "example.com", "06 11 22 33 44", "0611223344", "11\u00a022", "\\u00a011", "\\u0040")


def clean(text: str) -> bool:
    """No address or number a reader of `raw` (or ClickHouse's JSONExtract) could recover."""
    try:
        seen = text + orjson.dumps(json.loads(text)).decode()
    except json.JSONDecodeError:
        seen = text
    return not any(leak in seen for leak in LEAKS) and "@" not in seen.replace("[email]", "")


@pytest.mark.parametrize(
    "raw",
    [
        rb'{"event_type":"x","email":"esc.leak\u0040example.com"}',
        rb'{"event_type":"x","phone":"06\u00a011\u00a022\u00a033\u00a044"}',
        rb'{"event_type":"x","phone":"\u0030\u0036\u0031\u0031\u0032\u0032\u0033\u0033\u0034\u0034"}',
        rb'{"event_type":"x","email":"esc.leak\u0040EXAMPLE\u002ecom","note":"caf\u00e9"}',
        rb'{"event_type":"x","payload":"{\"email\":\"esc.leak\\u0040example.com\"}"}',  # JSON in JSON
        rb'not json: esc.leak\u0040example.com or 06\u00a011\u00a022\u00a033\u00a044',
        rb'{"event_type":"x","email":"esc.leak\u0040example.com"',  # truncated
        rb'{"event_type":"x","email":"ESC.LEAK\U0040EXAMPLE.COM"',  # upper-case U: not JSON, still read
    ],
)
def test_pii_behind_json_escapes_is_masked(raw: bytes) -> None:
    assert isinstance(run(raw), DeadLetter)
    text = dead_letter_text(raw)
    assert clean(text), text
    assert "[email]" in text or "[phone]" in text


def test_the_masked_copy_of_a_json_line_is_still_the_same_json_around_the_masks() -> None:
    raw = rb'{"event_type":"x","email":"esc.leak\u0040example.com","q":"\u0022quoted\u0022 \\u0040","n":"caf\u00e9"}'
    assert json.loads(dead_letter_text(raw)) == {"event_type": "x", "email": "[email]", "q": '"quoted" @',
                                                 "n": "caf\u00e9"}


@pytest.mark.parametrize(
    "raw",
    [rb'{"event_type":"x","note":"caf\u00e9 \ud83d\ude00 \u0022q\u0022 a\\u0040b"}', b"plain \\u0041 text",
     orjson.dumps(without("event_id"))],
)
def test_escapes_without_pii_are_kept_as_sent(raw: bytes) -> None:
    assert dead_letter_text(raw) == raw.decode()


def test_a_reason_quoting_a_value_with_escapes_is_masked() -> None:
    out = run(base(occurred_at="06\u00a011\u00a022\u00a033\u00a044"))
    assert isinstance(out, DeadLetter) and "[phone]" in out.reason  # masked before repr() and the cut
    # repr() writes NBSP as \xa0: a reason written that way is masked through it
    assert "[phone]" in masked_through_escapes("invalid_occurred_at: '06\\xa011\\xa022\\xa033\\xa044'")
    out = run(base(occurred_at="06\u202f11\u202f22\u202f33\u202f44"))
    assert isinstance(out, DeadLetter) and "[phone]" in masked_through_escapes(out.reason)
    assert masked_through_escapes("invalid_occurred_at: 'caf\\xe9'") == "invalid_occurred_at: 'caf\\xe9'"


@pytest.mark.parametrize("pii", ["straddle.leak@example.com", "+33 6 12 34 56 78", "06\u00a012\u00a034\u00a056\u00a078",
                                 "straddle.leak\\u0040example.com"])
@pytest.mark.parametrize("shift", [1, 5, 9, 12, 20])
def test_pii_cut_by_the_length_limit_is_masked(pii: str, shift: int) -> None:
    """An address or a number straddling the 64 KiB cut leaves no fragment ("straddle.l",
    "+33 6 12")."""
    raw = b'{"pad":"' + b"x" * (DEAD_LETTER_CHARS - shift - 9) + b" " + pii.encode() + b' tail"}'
    text = dead_letter_text(raw)
    assert len(text) <= DEAD_LETTER_CHARS
    tail = text[-40:]
    for fragment in ("straddle", "+33", "06", "\u00a0"):
        assert fragment not in tail, (shift, tail)


@settings(max_examples=150, deadline=None)
@given(pii=st.sampled_from(["straddle.leak@example.com", "+33 6 12 34 56 78", "06/98/76/54/33",
                            "straddle.leak%40example.com", "06\\u00a012\\u00a034\\u00a056\\u00a078"]),
       shift=st.integers(-5, 60))
def test_no_head_of_an_address_or_number_survives_the_cut(pii: str, shift: int) -> None:
    raw = b'{"pad":"' + b"x" * (DEAD_LETTER_CHARS - shift - 9) + b" " + pii.encode() + b' tail"}'
    text = dead_letter_text(raw)
    assert len(text) <= DEAD_LETTER_CHARS
    heads = [pii[:n] for n in range(4, len(pii) + 1)]
    assert not any(text.endswith(head) for head in heads), text[-30:]


@pytest.mark.parametrize("escape", ["\\t", "\\n", "\\r", "\\b", "\\f", '\\"', "\\\\", "\\u0009", "\\u000a"])
@pytest.mark.parametrize("number", ["0611223344", "06 11 22 33 44", "0033611223344", "+33611223344"])
def test_a_number_right_after_an_escape_is_masked(escape: str, number: str) -> None:
    """A JSON escape is not a letter the number is glued to: "\t0611223344" (an audit found a
    phone padded with a tab, raw in dead_letters)."""
    raw = ('{"event_type":"x","phone":"' + escape + number + '","other":"\\tkeep"').encode()  # truncated JSON
    text = dead_letter_text(raw)
    assert "[phone]" in text and "11" not in text.replace("\\u00", ""), text
    assert text == raw.decode().replace(number, "[phone]")  # the escapes kept as they were sent


@pytest.mark.parametrize("written", ["t\\u00e9l0662046610", "tél0662046610", "Tel+33662046610", "ph:0033662046610x"])
def test_a_number_glued_to_a_word_is_masked_in_dead_letters(written: str) -> None:
    text = dead_letter_text(('{"event_type":"x","phone":"' + written + '"').encode())
    assert "662046610" not in text and "[phone]" in text, text


@pytest.mark.parametrize("kept", ["e-7-0003916", "5bae81fb-1ad9-4764-8fca-f20824fa3adf", "2026-12-01T00:00:00Z",
                                  "sku-A0012", "v20261201", "ref00123456x"])
def test_ids_dates_and_other_digit_runs_stay_in_dead_letters(kept: str) -> None:
    raw = '{"event_type":"x","id":"' + kept + '"'
    assert dead_letter_text(raw.encode()) == raw


def test_escaped_slashes_hide_no_slashed_number() -> None:
    text = dead_letter_text(rb'{"event_type":"x","phone":"06\/98\/76\/54\/33"')
    assert "98" not in text and "[phone]" in text


def test_the_masked_copy_keeps_its_escapes_and_stays_json() -> None:
    raw = rb'{"event_type":"x","p":"\t0611223344","q":"line\nbreak \"q\" \\ end","e":"a\u0040b.fr"}'
    masked_copy = dead_letter_text(raw)
    assert json.loads(masked_copy) == {"event_type": "x", "p": "\t[phone]", "q": 'line\nbreak "q" \\ end',
                                       "e": "[email]"}


RUNS_OF_ESCAPES = [b"\\" * 70_000, b"\\" * 70_000 + b"u0040", b"\\u0040" * 12_000, b"\\x40" * 17_000,
                   b"\\u" * 35_000, b"\\\\u00" * 14_000, (b"\\" * 1000 + b"x") * 70,
                   (b"\\" * 999 + b"t") * 70, b"\\t" * 35_000, "\\\ue000".encode() * 20_000]


@pytest.mark.timeout(2)  # milliseconds each; a quadratic scan of the first one took seconds
def test_dead_letter_text_is_linear_on_runs_of_escapes() -> None:
    for raw in RUNS_OF_ESCAPES:
        assert len(dead_letter_text(raw)) <= DEAD_LETTER_CHARS


def test_long_dead_letters_are_cut_to_the_limit() -> None:
    raw = b"x" * (DEAD_LETTER_CHARS * 3)
    assert dead_letter_text(raw) == "x" * DEAD_LETTER_CHARS
    assert dead_letter_text("é".encode() * DEAD_LETTER_CHARS * 2) == "é" * DEAD_LETTER_CHARS


@settings(max_examples=200, deadline=None)
@given(local=st.text("abcdefghijklmnopqrstuvwxyz.", min_size=1, max_size=12).filter(lambda s: s[0] != "."),
       escaped=st.sets(st.sampled_from("@.-"), max_size=3), pad=st.integers(0, 80))
def test_escaped_emails_never_reach_dead_letters(local: str, escaped: set[str], pad: int) -> None:
    email = f"{local}@example.com"
    written = "".join(f"\\u{ord(c):04x}" if c in escaped else c for c in email)
    raw = ('{"event_type":"x","pad":"' + "p" * pad + '","email":"' + written + '"}').encode()
    text = dead_letter_text(raw)
    assert email not in text and email not in orjson.dumps(json.loads(text)).decode()


@pytest.mark.parametrize("raw", [
    b'{"event_type":"x","identifiers":{"email":"janedoe@exa',  # a line cut by a killed writer
    b'{"event_type":"x","identifiers":{"email":"janedoe@',
    "{\"note\":\"t\u00e9l 06\u00a012\u00a034\u00a056\u00a078\"}".encode("cp1252"),  # a Windows export
    "{\"note\":\"\uf0b7 tel 06\\/12\\/34\\/56\\/78 \\t0612345678\"".encode(),  # a Word bullet in the line
])  # fmt: skip
def test_more_rejected_lines_are_masked(raw: bytes) -> None:
    text = dead_letter_text(raw)
    assert "janedoe" not in text and "12" not in text.replace("\\u00", ""), text


def test_a_reason_quoting_a_long_value_is_masked_before_the_cut() -> None:
    line = b'{"type":"Customer Jean-Baptiste Dupont-Moretti, Paris, contact janedoe@example.com","messageId":"m"}'
    out = run(line)
    assert isinstance(out, DeadLetter) and "janedoe" not in out.reason and "[email]" in out.reason


def test_values_under_phone_and_email_named_keys_are_masked_in_dead_letters_too() -> None:
    """As in accepted events' properties: a Danish national number is too short for the
    patterns, a spelled-out '@' is no '@' to them; under such a key the value is masked whole."""
    raw = b'{"identifiers": {"phone": "20 12 34 56", "email": "jane (at) x.dk"}, "phone_ok": "yes", "n": "20 12"'
    text = dead_letter_text(raw)
    assert text == '{"identifiers": {"phone": "[phone]", "email": "[email]"}, "phone_ok": "yes", "n": "20 12"'
