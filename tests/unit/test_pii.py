"""pipeline.ingest.pii: free-text masking, phone normalisation, hashing, linear-time regexes."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from datetime import time as dtime
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.ingest.pii import (
    Hasher,
    identifier_is_pii,
    looks_like_pii,
    mask_text,
    mask_tree,
    masked_through_escapes,
    normalise_email,
    normalise_phone,
    scrubbed,
)

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jane.doe@example.com", "[email]"),
        ("Jane.Doe@Example.COM", "[email]"),
        ("contact: jane+promo@mail.example.co.uk, thanks", "contact: [email], thanks"),
        ("mailto:jane@example.com", "mailto:[email]"),
        ("<jane_doe-1%x@sub-domain.example.org>", "<[email]>"),
        ("a@b.co and c@d.fr", "[email] and [email]"),
        ("jane@example.com.", "[email]."),
        ("o'neil@example.com", "[email]"), ("write to jane!doe@example.com", "write to [email]"),  # was o'[email]
        ("?email=jane@example.com&x=1", "?email=[email]&x=1"),
    ],
)
def test_mask_emails(text: str, expected: str) -> None:
    assert mask_text(text) == expected
    assert looks_like_pii(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("06 12 34 56 78", "[phone]"),  # FR national, spaced
        ("0612345678", "[phone]"),  # FR national, compact
        ("06.12.34.56.78", "[phone]"),  # dotted
        ("06-12-34-56-78", "[phone]"),  # dashed
        ("+33 6 12 34 56 78", "[phone]"),  # international
        ("+33612345678", "[phone]"),
        ("0033612345678", "[phone]"),
        ("+1 (415) 555-2671", "[phone]"),
        ("+44 20 7946 0958", "[phone]"),
        ("call 06 12 34 56 78 now", "call [phone] now"),
        ("tel:+33612345678", "tel:[phone]"),
        ("a 0612345678, b 0712345678", "a [phone], b [phone]"),
    ],
)
def test_mask_phones(text: str, expected: str) -> None:
    assert mask_text(text) == expected
    assert looks_like_pii(text)


def test_mask_email_and_phone_together() -> None:
    assert (mask_text("Jane <jane@example.com>, 06 12 34 56 78")
            == "Jane <[email]>, [phone]")


#: Spaces that typesetting puts between digit pairs: no-break, narrow no-break, thin.
SPACES = ["\u00a0", "\u202f", "\u2009"]


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("06_98_76_54_32", "[phone]"),
        ("tel 06_98_76_54_32 merci", "tel [phone] merci"),
        ("+33_6_98_76_54_32", "[phone]"),
        ("+33_(0)6_98_76_54_32", "[phone]"),
        ("59,90_€", "59,90_€"),  # an amount
        ("1_234_567,89_€", "1_234_567,89_€"),  # grouped digits: 7 of them
        ("le_20_novembre_2026_à_10:00", "le_20_novembre_2026_à_10:00"),
        ("2026-11-20_10:15:22", "2026-11-20_10:15:22"),
    ],
)
def test_mask_phones_spaced_by_typesetting_spaces(space: str, written: str, expected: str) -> None:
    text = written.replace("_", space)
    assert mask_text(text) == expected.replace("_", space)
    assert looks_like_pii(text) is (expected != written)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("06/98/76/54/33", "[phone]"),
        ("tel: 06/98/76/54/33.", "tel: [phone]."),
        ("01/23/45/67/89 ou 06/98/76/54/33", "[phone] ou [phone]"),
        ("06 / 98 / 76 / 54 / 33", "[phone]"), ("call 06//98//76//54//33 now", "call [phone] now"),
    ],
)
def test_mask_slash_separated_phones(text: str, expected: str) -> None:
    assert mask_text(text) == expected
    assert looks_like_pii(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026/11/20",
        "20/11/2026",
        "2026/11/20 10:15:22",
        "le 20/11/2026 à 10:15",
        "https://shop.example/p/2026/11/20/12345",
        "/archive/06/98/76/54/33",  # a path of two-digit segments, not a number someone wrote
        "06/98/76/54/33/12",
        "1/2",
        "12/34/56/78/90",  # no national prefix
        "order O-2026/11/20-0042",
    ],
)
def test_slashes_in_dates_paths_and_ids_are_not_phones(text: str) -> None:
    assert mask_text(text) == text
    assert not looks_like_pii(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://x.fr/p?email=ctx.leak%40example.com&phone=%2B33612345600",
         "https://x.fr/p?email=[email]&phone=[phone]"),
        ("https://x.fr/p?email=ctx.leak%40EXAMPLE.com", "https://x.fr/p?email=[email]"),
        ("https://x.fr/p?phone=%2b33%206%2012%2034%2056%2078&x=1", "https://x.fr/p?phone=[phone]&x=1"),
        ("https://x.fr/p?to=jane%2Bnews%40example.com", "https://x.fr/p?to=[email]"),
        ("mailto:jane%40example.com?subject=Hello%20there", "mailto:[email]?subject=Hello there"),
    ],
)
def test_mask_percent_encoded_pii_in_urls(text: str, expected: str) -> None:
    assert mask_text(text) == expected
    assert looks_like_pii(text)
    assert mask_tree({"page": {"url": text}}) == {"page": {"url": expected}}


@pytest.mark.parametrize(
    "text",
    [
        "https://x.fr/p?ref=%2Fhome&q=chaussures%20rouges&utm_campaign=nl-12",
        "https://x.fr/p?n=%2B1&sort=price%20asc",
        "https://x.fr/search?q=order%2012345",
        "https://x.fr/%40handle",
        "100%",
        "50% off, code %40",
    ],
)
def test_percent_encoded_text_without_pii_is_left_as_it_is(text: str) -> None:
    assert mask_text(text) == text
    assert not looks_like_pii(text)


@settings(max_examples=200, deadline=None)
@given(day=st.dates(), time=st.times(), sep=st.sampled_from(["/", "-"]),
       between=st.sampled_from(["T", " ", *SPACES]))
def test_dates_and_date_times_are_never_phones(day: date, time: dtime, sep: str, between: str) -> None:
    written = day.strftime(f"%Y{sep}%m{sep}%d")
    for text in (written, f"{written}{between}{time.strftime('%H:%M:%S')}", day.strftime("%d/%m/%Y")):
        assert mask_text(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-03",
        "2026-11-03T10:15:22.120Z",
        "O-1234",
        "order O-1234 shipped",
        "12345",
        "42",
        "1234567",  # 7 digits
        "12345678",  # 8 digits: below the 9-digit minimum
        "EUR 59.90",
        "v1.2.3",
        "fr-FR",
        "Mozilla/5.0 (X11; Linux x86_64)",
        "@handle",
        "user@localhost",  # no dot in the domain
        "",
        "plain text without anything",
    ],
)
def test_mask_leaves_ordinary_text_alone(text: str) -> None:
    assert mask_text(text) == text
    assert not looks_like_pii(text)


def test_mask_non_ascii_email() -> None:
    assert "example.fr" not in mask_text("écrire à josé@example.fr")


def test_mask_leaves_space_separated_datetime_alone() -> None:
    assert mask_text("2026-11-03 10:15:22") == "2026-11-03 10:15:22"


@pytest.mark.parametrize("text", ["call 06 12 34 56 78: ok", "tel 0612345678:",
                                  "+33612345678:urgent"])
def test_mask_phone_followed_by_colon(text: str) -> None:
    assert "[phone]" in mask_text(text)


@pytest.mark.parametrize(
    "written",
    # spellings normalise_phone reads as a number, which the patterns once let through
    ["06 - 12 - 34 - 56 - 78", "07   11   22   33   44", "06*12*34*56*78", "[06] 12 34 56 78",
     "0\u200b6\u200b1\u200b2\u200b3\u200b4\u200b5\u200b6\u200b7\u200b8", "06\u00ad12\u00ad34\u00ad56\u00ad78",
     "callback 06 - 55 - 44 - 33 - 21"],
)
def test_phones_spelled_as_normalisation_reads_them_are_masked(written: str) -> None:
    assert not any(c.isdigit() for c in mask_text(written).replace("[phone]", ""))
    assert not any(c.isdigit() for c in masked_through_escapes(written).replace("[phone]", ""))


@pytest.mark.parametrize("written", ["jane@example..com", "lk.jane@.example.com", "jane@[192.168.0.1]"])
def test_addresses_with_a_stray_dot_or_an_ip_literal_are_masked(written: str) -> None:
    assert mask_text(f"to {written} now") == "to [email] now"


def test_values_under_phone_and_email_named_keys_are_masked_whole() -> None:
    traits = {"phone": "06 / 12 / 34 / 56 / 78", "Mobile": ["+33 (0) 6-12-34-56-78"], "email": "jane (at) example.com",
              "E-Mail": "jane%40example.com", "phone_verified": "yes", "email_opt_in": True, "emails": ["a@b"],
              "tel": 612345678}
    assert mask_tree(traits) == {"phone": "[phone]", "Mobile": ["[phone]"], "email": "[email]", "E-Mail": "[email]",
                                 "phone_verified": "yes", "email_opt_in": True, "emails": ["[email]"],
                                 "tel": "[phone]"}


def test_scrubbed_replaces_the_events_own_raw_values_anywhere() -> None:
    secrets = (("Jane.Doe@Example.com", "[email]"), ("O6 12 34 56 78", "[phone]"))
    tree = {"note": "call O6 12 34 56 78", "list": [{"Jane.Doe@Example.com": "x"}], "n": 1}
    assert scrubbed(tree, secrets) == {"note": "call [phone]", "list": [{"[email]": "x"}], "n": 1}
    assert scrubbed("O6 12 34 56 78", secrets) == "[phone]"


def test_mask_tree_walks_dicts_and_lists_and_keeps_other_types() -> None:
    tree = {"a": "jane@example.com", "b": [1, 2.5, None, True, "06 12 34 56 78"],
            "c": {"d": {"e": "ok"}}}
    assert mask_tree(tree) == {"a": "[email]", "b": [1, 2.5, None, True, "[phone]"],
                               "c": {"d": {"e": "ok"}}}


def test_mask_tree_depth_is_bounded() -> None:
    deep: object = "jane@example.com"
    for _ in range(100):
        deep = [deep]
    out = mask_tree(deep)
    # walk down: the value is cut (None) past the depth limit, never raw.
    assert "jane@example.com" not in repr(out)


@pytest.mark.parametrize(
    "value",
    ["06 12 34 56 78", "+33 6 12 34 56 78", "0612345678", "+33612345678", "06.12.34.56.78",
     "06-12-34-56-78", "0033 6 12 34 56 78", "06\t12\t34\t56\t78", "06 12 34 56 78 (mobile)",
     "(home) +33 6 12 34 56 78"],
)
def test_normalise_phone_fr_variants(value: str) -> None:
    assert normalise_phone(value, "FR") == "+33612345678"


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("+1 415 555 2671", "FR", "+14155552671"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("+1 (415) 555-2671 (cell)", "FR", "+14155552671"),  # a comment, not the area code, goes
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("+44 20 7946 0958", "FR", "+442079460958"),
    ],
)
def test_normalise_phone_other(value: str, country: str, expected: str) -> None:
    out = normalise_phone(value, country)
    assert out == expected
    assert out is not None and E164.match(out)


@pytest.mark.parametrize("value", ["", "abc", "123", "06", "not a phone", "+", "0" * 30])
def test_normalise_phone_impossible_is_none(value: str) -> None:
    assert normalise_phone(value, "FR") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(" Jane.Doe@Example.com", "jane.doe@example.com"), ("A@B.CO ", "a@b.co"),
     ("jane", None), ("@example.com", None), ("jane@", None), ("jane@localhost", None),
     ("Jane Doe <Jane.Doe@Example.com>", "jane.doe@example.com"), ("<a@b.co>", "a@b.co"),
     ("MAILTO:a@b.co", "a@b.co"), ("a@b.co.", "a@b.co"), ("\uff41@b.co", "a@b.co"),
     ("a b@c.de", None), ("a@b@c.de", None),
     # what forms and exports leave around an address
     ("a@b.co\u200b", "a@b.co"), ("\ufeffa@b.co", "a@b.co"), ('"a@b.co"', "a@b.co"), ("'a@b.co'", "a@b.co"),
     ("a@b.co;", "a@b.co"), ("a@b.co,", "a@b.co"), ("a@b.co>", "a@b.co"), ("<a@b.co", "a@b.co"),
     ("a%40b.co", "a@b.co"), ("a@b.co (home)", "a@b.co"), ("(work) A@B.co", "a@b.co")],
)
def test_normalise_email(value: str, expected: str | None) -> None:
    assert normalise_email(value) == expected


def test_hasher_is_keyed_blake2b() -> None:
    salt = b"test-salt"
    expected = hashlib.blake2b(b"email:jane.doe@example.com", key=salt, digest_size=16).hexdigest()
    assert Hasher(salt).hash("email", "jane.doe@example.com") == expected
    assert Hasher(b"other").hash("email", "jane.doe@example.com") != expected
    # the kind is part of the hashed text
    assert Hasher(salt).hash("phone", "jane.doe@example.com") != expected
    assert re.fullmatch(r"[0-9a-f]{32}", expected)


def test_hasher_long_salt_is_accepted() -> None:
    salt = b"s" * 100
    key = hashlib.sha256(salt).digest()
    assert Hasher(salt).hash("email", "x@y.fr") == hashlib.blake2b(
        b"email:x@y.fr", key=key, digest_size=16).hexdigest()


_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_LOCAL = st.builds(lambda a, b: a + b, st.sampled_from(_ALNUM),
                   st.text(alphabet=_ALNUM + "._+-", max_size=20))
_LABEL = st.builds(lambda a, b: a + b, st.sampled_from(_ALNUM),
                   st.text(alphabet=_ALNUM + "-", max_size=15))
_DOMAIN = st.builds(lambda first, rest: ".".join([first, *rest]), _LABEL,
                    st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2,
                                     max_size=6), min_size=1, max_size=3))


@settings(max_examples=200, deadline=None)
@given(local=_LOCAL, domain=_DOMAIN, before=st.sampled_from(["", " ", "mail: ", "<", "("]),
       after=st.sampled_from(["", " ", ">", ", ok", ")"]))
def test_ascii_emails_never_survive_masking(local: str, domain: str, before: str,
                                            after: str) -> None:
    email = f"{local}@{domain}"
    assert email not in mask_text(f"{before}{email}{after}")


@settings(max_examples=200, deadline=None)
@given(digits=st.builds(lambda d, rest: f"0{d}{rest:08d}", st.integers(1, 9),
                       st.integers(0, 10**8 - 1)),
       sep=st.sampled_from(["", " ", ".", "-", "/", *SPACES]))
def test_fr_national_phones_never_survive_masking(digits: str, sep: str) -> None:
    written = sep.join(digits[i:i + 2] for i in range(0, 10, 2))
    masked = mask_text(f"tel {written} merci")
    assert masked == "tel [phone] merci"


@settings(max_examples=200, deadline=None)
@given(local=_LOCAL, domain=_DOMAIN, key=st.sampled_from(["email", "to", "e"]))
def test_percent_encoded_emails_never_survive_masking(local: str, domain: str, key: str) -> None:
    email = f"{local}@{domain}"
    masked_url = mask_text(f"https://x.fr/p?{key}={quote(email, safe='')}&utm_source=nl")
    assert quote(email, safe="") not in masked_url and email not in masked_url


ADVERSARIAL = [
    "1" * 65536,
    "a." * 32768 + "@",
    "(1" * 30000,
    "x@" * 30000,
    "1 " * 32768,
    "+1" * 32768,
    "a" * 65535 + "@",
    "@" + "a." * 32767,
    "a@" + "b." * 32767,
    "1." * 32768,
    "-" * 65536,
    "é." * 32768 + "@",
    "é@" * 30000,
    "a@" + "é." * 32000,
    "\u0661" * 65536,  # non-ASCII digits
    "1:" * 32768,
    "\u00a01" * 32768,
    "1\u202f\u2009" * 21845,
    "06/" * 21845,
    "/06" * 21845,
    "%40" * 21845,
    "a%40" * 16384,
    "%2B1" * 16384,
    "%201" * 16384,
    "1 - " * 16384,
    "[1]*" * 16384,
    "a@." * 21845,
    "a@[" + "1." * 32766,
]


@pytest.mark.timeout(5)
def test_mask_text_is_linear_on_adversarial_input() -> None:
    for text in ADVERSARIAL:
        out = mask_text(text)
        assert isinstance(out, str)
        looks_like_pii(text)
        mask_tree({"k": text, "l": [text]})


@pytest.mark.parametrize("space", SPACES)
def test_phone_ids_spaced_by_typesetting_spaces_are_pii(space: str) -> None:
    for written in ("06 98 76 54 32", "+33 6 98 76 54 32", "sms-+33 6 98 76 54 32"):
        assert identifier_is_pii(written.replace(" ", space))
    assert normalise_phone(f"06{space}98{space}76{space}54{space}32", "FR") == "+33698765432"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("login:Jane.Doe@Example.com", True),  # an email anywhere in an id
        ("sms-+33612345678-20261103", True),  # an international number anywhere
        ("+33 6 12 34 56 78", True), ("0612345678", True),  # whole phone numbers
        ("jane.doe%40example.com", True), ("jane.doe%2540example.com", True),  # percent-encoded
        ("john.roe\uff20example.com", True), ("john\ufe6bexample.com", True),  # full-width, small at sign
        ("jane\\u0040example.com", True),  # an escape written out as text (JSON twice)
        ("sms-0612345678", False),  # a national form inside an id: kept (cannot be told from keys)
        ("1b9d6bcd-0123-4567-8901-123456789012", False), ("123456789012", False), ("u-42", False),
    ],
)
def test_identifier_is_pii(value: str, expected: bool) -> None:
    assert identifier_is_pii(value) is expected


def test_full_width_and_twice_encoded_at_signs_are_masked() -> None:
    assert mask_text("write to ann.loe\uff20example.com today") == "write to [email] today"
    assert mask_text("u=jane%2540example.com&x=1") == "u=[email]&x=1"
    assert mask_text("note: jane\\u0040example.com") == "note: [email]"
    assert mask_text("path c:\\u0041 \\t") == "path c:\\u0041 \\t"  # nothing to mask: as written
    assert mask_text("caf\u00e9 \uff20 noon") == "caf\u00e9 \uff20 noon"  # no address: left as it is


def test_mask_text_drops_nuls_so_utf16_text_is_masked() -> None:
    utf16_as_utf8 = "mail jane@example.com or 06 12 34 56 78".encode("utf-16-le").decode("utf-8", errors="replace")
    assert mask_text(utf16_as_utf8) == "mail [email] or [phone]"


# Forms a second audit found readable (pipeline/ingest/pii.py; repro lines in its report).
@pytest.mark.parametrize("text", [
    "Tel 030/1234567, Handy 0171/1234567", "call 079/123 45 67", "+49 171/1234567", "US 415/555-2671",
    "030 / 123 45 67",  # an area code and a slash (German, Swiss, US forms)
    "(415) 555-2671x123", "+1-415-555-2671x45", "06 12 34 56 78 ext.12",  # an extension glued on
    "?tel=06+12+34+56+78", "phone=%2B33+6+12+34+56+78",  # an HTML form's GET
    "06\u201312\u201334\u201356\u201378", "06\u221212\u221234\u221256\u221278", "06\t12\t34\t56\t78",
    "06\uff0d12\uff0d34\uff0d56\uff0d78",  # en dash, minus, tab, full-width hyphen
    "janedoe&#64;example.com", "janedoe&#x40;example.com", "06&nbsp;12&nbsp;34&nbsp;56&nbsp;78",  # HTML
    "janedoe%40example%2Ecom", "%28415%29%20555-2671", "janedoe@example\u3002com",
    "?phone=%28415%29+555-2671&ref=nl",  # a browser's form GET, urlencode, quote_plus
])  # fmt: skip
def test_more_written_forms_are_masked(text: str) -> None:
    out = mask_text(text)
    assert "[phone]" in out or "[email]" in out, out


def test_a_url_query_with_a_bracketed_area_code_is_masked_in_properties() -> None:
    url = "https://shop.example/account?phone=%28415%29+555-2671&ref=nl"
    assert mask_tree({"page": {"url": url}}) == {"page": {"url": "https://shop.example/account?phone=[phone]&ref=nl"}}


def test_numbers_listed_under_a_phone_named_key_are_masked() -> None:
    out = mask_tree({"phones": [612345675, 33612345675, "06 12 34 56 78"], "sizes": [38, 40], "ids": [612345675]})
    assert out == {"phones": ["[phone]", "[phone]", "[phone]"], "sizes": [38, 40], "ids": [612345675]}
    assert not any(run in out for run in ("1234567", "555", "34", "janedoe")), out


@pytest.mark.parametrize("text", ["2026/11/20", "12/2026", "see /v1/api/12345678", "3/4 of 1920x1080"])
def test_slashes_dates_and_sizes_are_not_phones(text: str) -> None:
    assert mask_text(text) == text


@pytest.mark.parametrize(("value", "expected"), [
    ("030/1234567", True), ("tel:0612345678", True), ("wa:33612345678", True), ("sms://+33612345678", True),
    ("(415) 555-2671", True), ("415-555-2671", True), ("2026/11/20", False), ("wa:123", False),
    ("order-2026-1234", False),
])  # fmt: skip
def test_identifiers_holding_a_number_in_other_forms_are_pii(value: str, expected: bool) -> None:
    assert identifier_is_pii(value) is expected


def test_a_bare_number_under_a_phone_named_key_is_masked() -> None:
    tree = {"phone": 612345678, "mobileNumber": 33612345678, "fax_no": 1.41555526e9, "qty": 612345678,
            "hotel_id": 612345678, "phone_count": 2, "nested": [{"tel": 612345678}]}
    assert mask_tree(tree) == {"phone": "[phone]", "mobileNumber": "[phone]", "fax_no": "[phone]",
                               "qty": 612345678, "hotel_id": 612345678, "phone_count": 2,
                               "nested": [{"tel": "[phone]"}]}


@pytest.mark.parametrize(("text", "expected"), [
    ("06 12 34 56 78 07 98 76 54 32", "[phone] [phone]"),  # the generic run took 15 digits: "[phone] 76 54 32"
    ("tel 06 12 34 56 78 / 07 98 76 54 32", "tel [phone] / [phone]"),
    ("06 12 34 56 78 90 12", "[phone]"),  # one longer number stays one
])  # fmt: skip
def test_two_french_numbers_in_a_row_are_two(text: str, expected: str) -> None:
    assert mask_text(text) == expected
