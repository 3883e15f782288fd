"""pipeline.ingest.logic.ingest_one and PII: identifiers normalised and hashed (raw email and
phone never come out), junk values dropped, free text masked (helpers in ingest_cases.py)."""

from __future__ import annotations

import re

import orjson
import pytest

from pipeline.ingest.logic import IngestConfig
from tests.unit.ingest_cases import EMAIL_NORMAL, JUNK, KINDS, PHONE_E164, SALT, accepted, base, code_of, h

# --------------------------------------------------------------------------- identifiers / PII


@pytest.mark.parametrize(
    "spelling", [" Jane.Doe@Example.com", "jane.doe@example.com ", "JANE.DOE@EXAMPLE.COM"]
)
def test_email_spellings_hash_the_same_and_raw_never_appears(spelling: str) -> None:
    out = accepted(base(identifiers={"email": spelling}))
    assert out["identifiers"] == {"email": h("email", EMAIL_NORMAL)}
    dumped = orjson.dumps(out)
    assert spelling.strip().encode() not in dumped
    assert EMAIL_NORMAL.encode() not in dumped.lower()
    assert b"@" not in dumped


@pytest.mark.parametrize(
    "spelling",
    ["06 12 34 56 78", "+33 6 12 34 56 78", "0612345678", "+33612345678", "06.12.34.56.78"],
)
def test_fr_phone_variants_hash_the_same(spelling: str) -> None:
    out = accepted(base(identifiers={"phone": spelling}))
    assert out["identifiers"] == {"phone": h("phone", PHONE_E164)}
    dumped = orjson.dumps(out)
    assert spelling.encode() not in dumped
    assert b"612345678" not in dumped


def test_phone_default_country_is_configurable() -> None:
    us = IngestConfig.build(SALT, phone_country="US")
    out = accepted(base(identifiers={"phone": "(415) 555-2671"}), cfg=us)
    assert out["identifiers"] == {"phone": h("phone", "+14155552671")}


def test_different_salts_give_different_hashes() -> None:
    other = IngestConfig.build(b"another-salt")
    ids = {"email": EMAIL_NORMAL, "phone": "0612345678"}
    a = accepted(base(identifiers=ids))["identifiers"]
    b = accepted(base(identifiers=ids), cfg=other)["identifiers"]
    assert a["email"] != b["email"] and a["phone"] != b["phone"]
    assert b == {"email": h("email", EMAIL_NORMAL, b"another-salt"),
                 "phone": h("phone", PHONE_E164, b"another-salt")}


def test_hash_is_stable_for_a_salt_across_configs() -> None:
    again = IngestConfig.build(SALT)
    assert (accepted(base(identifiers={"email": EMAIL_NORMAL}), cfg=again)["identifiers"]
            == {"email": h("email", EMAIL_NORMAL)})


def test_non_hashed_kinds_kept_verbatim_but_stripped() -> None:
    out = accepted(base(identifiers={"user_id": " u-42 ", "crm_id": 1234}))
    assert out["identifiers"] == {"user_id": "u-42", "crm_id": "1234"}


@pytest.mark.parametrize("junk", JUNK)
def test_junk_identifier_values_are_dropped(junk: str) -> None:
    out = accepted(base(identifiers={"user_id": "u-42", "anonymous_id": junk, "device_id": junk}))
    assert out["identifiers"] == {"user_id": "u-42"}


@pytest.mark.parametrize("junk", [*JUNK, "NULL", " None ", "Undefined", "N/A", "NaN"])
def test_only_junk_identifiers_is_no_identifiers(junk: str) -> None:
    ids = {kind: junk for kind in KINDS}
    assert code_of(base(identifiers=ids)) == "no_identifiers"


@pytest.mark.parametrize("placeholder", ["0000000000", "00000", "xxxxx", "*****", "99999999", "GUEST", "False",
                                         "Test@Test.com", " anonymous_user "])
def test_placeholders_are_junk_for_every_kind(placeholder: str) -> None:
    # each would glue every customer whose form or export filled it in
    assert code_of(base(identifiers={kind: placeholder for kind in KINDS})) == "no_identifiers"


@pytest.mark.parametrize("value", ["0000", "x", "00001", "u-00000", "1111-2"])
def test_short_or_mixed_repeats_are_identifiers(value: str) -> None:
    assert accepted(base(identifiers={"user_id": value}))["identifiers"] == {"user_id": value}


def test_unusable_identifier_values_are_dropped() -> None:
    ids = {"user_id": True, "crm_id": None, "loyalty_id": [1], "device_id": {"a": 1},
           "email": "not-an-email", "phone": "abc", "anonymous_id": "x" * 257}
    assert code_of(base(identifiers=ids)) == "no_identifiers"
    ids["anonymous_id"] = "a-1"
    assert accepted(base(identifiers=ids))["identifiers"] == {"anonymous_id": "a-1"}


def test_unknown_identifier_kinds_are_ignored() -> None:
    out = accepted(base(identifiers={"user_id": "u-42", "twitter": "@jane", "Email": "x@y.fr"}))
    assert out["identifiers"] == {"user_id": "u-42"}
    assert code_of(base(identifiers={"twitter": "@jane", "ssn": "123"})) == "no_identifiers"


def test_email_as_user_id_is_not_kept_raw() -> None:
    # contract: raw email/phone never reach an internal topic, whatever kind carries them
    out = accepted(base(identifiers={"user_id": "Jane.Doe@Example.com",
                                     "crm_id": "06 12 34 56 78", "loyalty_id": "L-1"}))
    dumped = orjson.dumps(out)
    assert b"Jane.Doe@Example.com" not in dumped and b"06 12 34 56 78" not in dumped
    assert out["identifiers"]["user_id"] == h("user_id", "jane.doe@example.com")
    assert out["identifiers"]["loyalty_id"] == "L-1"
    assert re.fullmatch(r"[0-9a-f]{32}", out["identifiers"]["crm_id"])
    # hashed under its own kind: not the same token as the email kind
    assert out["identifiers"]["user_id"] != h("email", "jane.doe@example.com")


def test_pii_looking_id_hash_is_stable_across_case() -> None:
    a = accepted(base(identifiers={"user_id": "Jane.Doe@Example.com"}))["identifiers"]
    b = accepted(base(identifiers={"user_id": " jane.doe@example.com "}))["identifiers"]
    assert a == b
    # the forms an address is pasted in are one login too (they were three persons)
    for spelling in ("mailto:jane.doe@example.com", "Jane Doe <jane.doe@example.com>", "jane.doe@example.com;"):
        assert accepted(base(identifiers={"user_id": spelling}))["identifiers"] == a, spelling


def test_empty_identifiers_object_is_no_identifiers() -> None:
    assert code_of(base(identifiers={})) == "no_identifiers"


# --------------------------------------------------------------------------- free-text masking


def test_pii_in_properties_and_context_is_masked() -> None:
    message = base(
        properties={
            "note": "mail me at Jane.Doe@Example.com or call 06 12 34 56 78",
            "nested": {"list": ["+33 6 12 34 56 78", "ok", 5, None], "deep": {"x": "jane@x.org"}},
            "order_id": "O-1234",
            "when": "2026-11-03",
        },
        context={"page": {"url": "https://shop.example/?email=jane.doe@example.com"},
                 "ua": "Mozilla/5.0", "phone": "06.12.34.56.78"},
    )
    out = accepted(message)
    assert out["properties"] == {
        "note": "mail me at [email] or call [phone]",
        "nested": {"list": ["[phone]", "ok", 5, None], "deep": {"x": "[email]"}},
        "order_id": "O-1234",
        "when": "2026-11-03",
    }
    assert out["context"] == {"page": {"url": "https://shop.example/?email=[email]"},
                              "ua": "Mozilla/5.0", "phone": "[phone]"}
    dumped = orjson.dumps(out)
    for raw in (b"Jane.Doe@Example.com", b"jane.doe@example.com", b"jane@x.org",
                b"06 12 34 56 78", b"+33 6 12 34 56 78", b"06.12.34.56.78"):
        assert raw not in dumped


def test_pii_cut_by_the_length_limit_is_still_masked() -> None:
    out = accepted(base(touchpoint="x" * 110 + " jane.doe@example.com",
                        properties={"order_id": "o" * 119 + " 0612345678"}))
    assert "jane.doe" not in out["touchpoint"]
    assert "06123456" not in out["order_id"]
    assert len(out["touchpoint"]) <= 128 and len(out["order_id"]) <= 128


def test_pii_in_promoted_fields_is_masked() -> None:
    out = accepted(base(touchpoint="jane.doe@example.com",
                        properties={"order_id": "jane.doe@example.com", "currency": "a@b.co"}))
    dumped = orjson.dumps(out)
    assert b"jane.doe@example.com" not in dumped
    assert b"a@b.co" not in dumped


def test_typeset_slashed_and_percent_encoded_pii_in_free_text_is_masked() -> None:
    out = accepted(base(
        properties={"note": "rappeler le 06\u00a098\u00a076\u00a054\u00a032", "fax": "06/98/76/54/33",
                    "tel": "+33\u202f6\u202f98\u202f76\u202f54\u202f31", "alt": "06\u200998\u200976\u200954\u200930",
                    "when": "2026/11/20", "order_id": "O-1234", "total": "1\u202f234,50\u00a0€"},
        context={"page": {"url": "https://x.fr/p?email=ctx.leak%40example.com&phone=%2B33612345600"}},
    ))
    assert out["properties"] == {"note": "rappeler le [phone]", "fax": "[phone]", "tel": "[phone]", "alt": "[phone]",
                                 "when": "2026/11/20", "order_id": "O-1234",
                                 "total": "1\u202f234,50\u00a0€",
                                 "revenue": "1\u202f234,50\u00a0€"}  # a conversion's total is its revenue
    assert out["context"] == {"page": {"url": "https://x.fr/p?email=[email]&phone=[phone]"}}
    dumped = orjson.dumps(out).decode()
    for raw in ("ctx.leak", "612345600", "98/76", "98\u00a076", "98\u202f76", "98\u200976"):
        assert raw not in dumped, raw
