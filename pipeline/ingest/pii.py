"""Personal data: normalise and hash email and phone; mask anything PII-looking in free text.

strategy: identifiers are hashed with a keyed BLAKE2b (the install's salt is the key), so the
same person's email maps to the same token everywhere, and nobody without the salt can test a
guess. Normalisation and hashing are cached: identifiers repeat across a person's events.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from functools import lru_cache

import phonenumbers

# Possessive quantifiers (Python 3.11+) keep both patterns linear: a 64 KiB run of digits or
# dots must not backtrack (it once stalled the ingest loop for seconds).
# A match may only start at the beginning of a token (lookbehind), so every run of
# candidate characters is scanned once.
# The local part takes RFC 5322's other characters too (o'neil@, jane!doe@), except those that
# separate a URL's parts (/ ? = &), which would mask the URL up to the address.
# The domain as normalise_email takes it: also with a stray dot (jane@example..com,
# jane@.example.com, typed in a hurry), or an IP literal (jane@[192.168.0.1]).
_EMAIL = re.compile(r"(?<![\w.%+\-'!#$*^`{|}~])[\w.%+\-'!#$*^`{|}~]++@"
                    r"(?:\.?[\w\-]++(?:\.{1,2}[\w\-]++)++|\[[0-9A-Fa-f.:]++\])")
# What separates a phone number's digit groups: spaces (also the no-break, narrow no-break and
# thin spaces that word processors and French typesetting put there, and tabs), dots, dashes
# (also the en dash, minus and full-width hyphen that autocorrect and CJK keyboards type),
# parentheses and brackets, asterisks, and the invisible zero-width space and soft hyphen an
# address book or a web page leaves in (normalise_phone reads through all of them).
_SEPARATORS = " \t\u00a0\u202f\u2009\u200b\u00ad.*\\-\u2010-\u2015\u2212\uff0d()\\[\\]"
# 9 to 15 digits, optionally '+'-prefixed and split by up to 3 separators (" - "); not followed by a word
# character (an extension glued on, "x123" or "ext.12", is allowed), nor by ':' and a digit, so
# that a date-time "2026-11-03 10:15:22" is left alone.
# The digit count may back off (at most 14 steps per token start, so still linear), so that a
# number glued to more digits and a letter ("+33 6 12 34 56 78-03T10") is still found.
_PHONE = re.compile(rf"(?<![\w])\+?\(?\d(?:[{_SEPARATORS}]{{0,3}}+\d){{8,14}}(?!(?!x\d|ext)\w|:\d)")
# A French national number (the default country's form) as its own token, tried before the
# generic pattern: "06 12 34 56 78 07 98 76 54 32" is two numbers, where the generic 15-digit
# run would take the first and half of the second.
_PHONE_FR = re.compile(rf"(?<![\w])0[1-9](?:[{_SEPARATORS}]?\d\d){{4}}(?![\w{_SEPARATORS}]\d)(?!\w)")
# A French number in slashes ("06/98/76/54/33", also "06 / 98 / ..." and "06//98//..."): only
# that shape, since runs of digits and slashes are mostly dates (2026/11/20) and URL paths,
# which a slash before or after excludes.
# The '0' comes before the lookbehind so that the engine jumps from one '0' to the next (five
# times faster on a URL than trying the lookbehind at every position).
_PHONE_SLASHED = re.compile(r"0(?<![\w/]0)[1-9](?: ?//?+ ?\d\d){4}(?![\w/])")
# An area code, a slash, then the number ("030/1234567", "0171 / 123 45 67", "+49 171/1234567",
# US "415/555-2671"): 9 to 15 digits in all (checked by `_masked_area`), so dates are not read.
_PHONE_AREA = re.compile(r"(?<![\w/+])(?:\+\d{1,3} ?)?\(?\d{2,5}\)? ?/ ?\d(?:[ \-]?\d){4,11}(?![\w/])")
# In a dead letter, also a number glued to the word before it ("tél0612345678", "Tel+33...")
# and an address cut short at the end ("jane@exa", a line truncated by a killed writer): free text
# elsewhere keeps such runs (ids, keys), but a rejected message is kept for repair only, so
# masking a run too many costs nothing. A number must still open like a phone number ('+' or
# '0') and hold 9 to 15 digits, not be the middle of a longer run of digits.
_PHONE_GLUED = re.compile(rf"(?<![\d+])(?:\+|0)\(?\d(?:[{_SEPARATORS}]{{0,3}}+\d){{8,14}}(?!\d)")
_EMAIL_CUT = re.compile(r"(?<![\w.%+\-])[\w.%+\-]++@[\w.\-]*+(?=\s*\Z)")
# A whole identifier value that is a phone number: international (+, 00) or national (0) prefix.
_PHONE_ID = re.compile(rf"(?:\+|0)[\d{_SEPARATORS}]{{8,24}}"
                       # or a North American one written as such: (415) 555-2671, 415-555-2671
                       r"|\(?[2-9]\d\d\)?[ .\-]\d{3}[ .\-]\d{4}")
# URI schemes and app prefixes that an id holding a number starts with ("tel:0612345678",
# "wa:33612345678": WhatsApp ids are the number without its '+').
_PHONE_SCHEME = re.compile(r"^(?:tel|sms|callto|wa|whatsapp):/{0,2}", re.I)
# An international number anywhere in an id ("sms-+33612345678"): '+' then 9 to 15 digits.
# A national form (leading 0) only counts as the whole value: inside an id it cannot be told
# from a UUID segment or a numeric key.
# Not possessive, so that "+33612345678-20261103" still finds its 11 digits: backtracking is
# bounded by the 14 repetitions, per '+'.
_PHONE_INTL = re.compile(rf"\+\(?\d(?:[{_SEPARATORS}]{{0,2}}\d){{8,14}}(?!\d)")
# Percent-encoded characters of an address or a number in a URL ("email=jane%40x.fr",
# "phone=%2B33..."): a text that holds '%' is looked at with these decoded.
# "%25" first: a twice-encoded address ("jane%2540x.fr", a URL inside a URL) decodes to '@' too.
_PERCENT_DECODED = (("%25", "%"), ("%40", "@"), ("%2B", "+"), ("%2b", "+"), ("%20", " "), ("%2E", "."),
                    ("%2e", "."), ("%28", "("), ("%29", ")"))
# A '+' between digits in a query string is a space ("?tel=06+12+34+56+78", an HTML form's GET).
_FORM_PLUS = re.compile(r"(?<=[\d)])\+(?=[\d(])")  # also "(415)+555-2671": a form's "(415) 555-2671"
# Names of fields that hold a phone number: there, a bare JSON number is one too
# ({"phone": 612345678} from a Segment identify's traits).
_PHONE_FIELD = re.compile(r"phone|mobile|msisdn|whatsapp|(?:^|[^a-z])(?:tel|fax|gsm|sms|cell)(?:[^a-z]|$)", re.I)
# Names of fields that hold an email address ({"email": ...}, "E-Mail", "courriel").
_EMAIL_FIELD = re.compile(r"e[-_ .]?mail|^mail|courriel", re.I)
# How an '@' is written where a pattern would not see it: percent-encoded, full-width, spelled out.
_AT_WRITTEN = re.compile(r"@|%40|\uff20|\ufe6b|[(\[{<]\s*at\s*[)\]}>]", re.I)
# A JSON string under a key, in a rejected message's text (no escapes inside: bounded, linear).
_KEYED_STRING = re.compile(r'"([^"\\\n]{1,64})"\s*:\s*"([^"\\\n]{1,256})"')
# The full-width and small commercial at (＠, ﹫) that a form on a CJK keyboard, or a user
# dodging a filter, types for '@'; NFKC maps them to it, as email normalisation does.
_AT_SIGNS = ("\uff20", "\ufe6b")
# Likewise the ideographic and full-width full stops in a domain ("jane@example。com").
_FULL_STOPS = ("\u3002", "\uff0e", "\uff61")
# An escape that hides a character from the patterns: JSON's \uXXXX (or \UXXXX), also nested
# (\\u0040 in a JSON document inside a JSON string), and Python's \xNN (a reason quotes a value
# with repr).
# Only from the first backslash of a run: a match tried inside a 64 KiB run of them would make
# the scan quadratic (seconds).
_ESCAPE = re.compile(r"(?<!\\)\\++(?:[uU]([0-9A-Fa-f]{4})|x([0-9A-Fa-f]{2}))"
                     # or the last backslash of an odd run and the character it escapes: JSON's
                     # short escapes read as letters ("\t0612345678": a number glued to a 't').
                     r"|(?<!\\)((?:\\\\)*+)\\([^\\uU])")
#: Private-use characters that stand for the escapes JSON must keep (controls, quote,
#: backslash) while a dead letter is masked: not word characters, so a number after "\t" is a
#: number of its own; put back afterwards.
#: Two sets, so that a text holding one (a Word bullet, U+F0B7) still gets the other.
_HOLDER_SETS = ((range(0xE000, 0xF900), re.compile("[\ue000-\uf8ff]")),
                (range(0xF0000, 0xFFFFE), re.compile("[\U000f0000-\U000ffffd]")))
#: What `parcours.dead_letters.raw` keeps of a rejected message, in characters.
DEAD_LETTER_CHARS = 65_536
#: Characters masked past that cut, so that an address or a number straddling it is masked
#: whole: more than any of them takes, even with each character written as a \uXXXX escape.
_CUT_MARGIN = 4_096
#: Bytes of a rejected message `dead_letter_text` reads at most (4 per character, UTF-8's
#: longest): a message cut there keeps the same dead letter (pipeline/ingest/oversized.py).
DEAD_LETTER_HEAD_BYTES = 4 * (DEAD_LETTER_CHARS + _CUT_MARGIN)
#: Spaces that phonenumbers does not take as separators.
_TYPESET_SPACES = str.maketrans({"\u202f": " ", "\u2009": " ", "\t": " "})
#: A comment written after a phone number or around an address: "(mobile)", "(home)" (RFC 5322
#: allows comments in an address; forms and CRMs append them to numbers).
_COMMENT = re.compile(r"\([^()0-9]*\)")  # no digits: "(555) 123-4567" is the number


_SCALARS = {int, float, bool, type(None)}


def normalise_email(value: str) -> str | None:
    """Trim and lower-case; also the forms a mail client, a form or an export puts around an
    address ("Jane <jane@x.fr>", "mailto:jane@x.fr", full-width letters, an invisible
    zero-width space, quotes, a trailing dot, comma or semicolon, a comment "(home)", an
    @ written %40)."""
    email = value.strip()
    if not email.isascii():
        email = "".join(c for c in unicodedata.normalize("NFKC", email) if unicodedata.category(c) != "Cf").strip()
    if "(" in email:
        email = _COMMENT.sub("", email).strip()
    if email.endswith(">") and "<" in email:
        email = email[email.rindex("<") + 1:-1].strip()
    email = email.lower().removeprefix("mailto:").strip("\"'<> ").rstrip(".,;")
    if "@" not in email and "%40" in email:
        email = email.replace("%40", "@", 1)
    local, at, domain = email.partition("@")
    return email if at and local and "." in domain and "@" not in domain and " " not in email else None


#: Entries of the PII caches: enough for the identifiers of the customers active now (a
#: journey repeats its email and phone within minutes). Sized for every customer ever seen,
#: they held ~250 B per entry for the life of the worker: ~180 MB at 700 000 entries.
PII_CACHE = 1 << 16


@lru_cache(maxsize=PII_CACHE)
def normalise_phone(value: str, country: str) -> str | None:
    """'06 12 34 56 78' (FR) -> '+33612345678'; None when it is not a possible number."""
    if "(" in value:
        value = _COMMENT.sub(" ", value)
    try:
        number = phonenumbers.parse(value.translate(_TYPESET_SPACES), country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class Hasher:
    """Keyed hash of normalised PII values: 32 hex chars, stable for a salt."""

    def __init__(self, salt: bytes) -> None:
        self._key = salt if len(salt) <= 64 else hashlib.sha256(salt).digest()
        self.hash = lru_cache(maxsize=PII_CACHE)(self._hash)

    def _hash(self, kind: str, value: str) -> str:
        return hashlib.blake2b(f"{kind}:{value}".encode(), key=self._key, digest_size=16).hexdigest()

    def digest(self, kind: str, data: bytes) -> str:
        """The same keyed hash of a long, one-off value (a whole message): not cached."""
        return hashlib.blake2b(kind.encode() + b":" + data, key=self._key, digest_size=16).hexdigest()


def mask_text(text: str) -> str:
    """Replace anything that looks like an email or a phone number, also percent-encoded or
    written with a full-width '@' (then the text comes back with those decoded around the
    masks)."""
    text = _without_nul(text)
    if (decoded := _revealed(text)) != text and (out := _mask(decoded)) != decoded:
        return out
    return _mask(text)


def _revealed(text: str) -> str:
    """`text` with what hides an address or a number from the patterns decoded: percent
    escapes, full-width at signs, and \\u0040-style escapes written out as text (a value that
    went through JSON twice)."""
    if "\\" in text:
        text = _ESCAPE.sub(_revealed_char, text)
    if "%" in text:
        text = _percent_decoded(text)
    if "=" in text and "+" in text:
        text = _FORM_PLUS.sub(" ", text)
    if "&" in text and ";" in text:  # HTML: jane&#64;x.fr, 06&nbsp;12&nbsp;34...
        text = html.unescape(text)
    if not text.isascii():
        for sign in _AT_SIGNS:
            text = text.replace(sign, "@")
        if "@" in text:
            for stop in _FULL_STOPS:
                text = text.replace(stop, ".")
    return text


def _mask(text: str) -> str:
    if "@" in text:
        text = _EMAIL.sub("[email]", text)
    if not _may_hold_phone(text):
        return text
    text = _PHONE_FR.sub("[phone]", text)
    if "/" in text:
        text = _PHONE_AREA.sub(_masked_area, _PHONE_SLASHED.sub("[phone]", text))
    return _PHONE.sub("[phone]", text)


def _masked_area(number: re.Match[str]) -> str:
    return "[phone]" if 9 <= sum(c.isdigit() for c in number.group()) <= 15 else number.group()


def _revealed_char(escape: re.Match[str]) -> str:
    """A \\uXXXX or \\xNN escape as its character (`_decodable`); else as written."""
    code = escape.group(1) or escape.group(2)
    return chr(int(code, 16)) if code is not None and _decodable(int(code, 16)) else escape.group()


def _decodable(code: int) -> bool:
    """Not a character JSON must keep escaped (controls, quote, backslash), nor a surrogate."""
    return not (code < 0x20 or code in (0x22, 0x5C) or 0xD800 <= code <= 0xDFFF)


def _percent_decoded(text: str) -> str:
    for escape, char in _PERCENT_DECODED:  # str.replace: four scans in C beat one regex pass
        text = text.replace(escape, char)
    return text


def identifier_is_pii(text: str) -> bool:
    """An id value (a login, a CRM key, an event id) that carries an email or an international
    phone number anywhere, or is a whole phone number: stricter than `looks_like_pii` on
    phones, whose pattern also matches digit runs inside UUIDs and numeric ids, which must be
    kept as they are."""
    text = _revealed(text)
    if ("@" in text and _EMAIL.search(text)) or _PHONE_INTL.search(text):
        return True
    stripped = text.strip()
    whole = _PHONE_SCHEME.sub("", stripped)
    if whole != stripped and whole.isdigit() and 9 <= len(whole) <= 15:
        return True  # wa:33612345678
    return bool(_PHONE_ID.fullmatch(whole) or ("/" in whole and _PHONE_AREA.fullmatch(whole))) \
        and 9 <= sum(c.isdigit() for c in whole) <= 15


#: `identifier_is_pii` for identifier values, which repeat on a person's events (event ids do
#: not: they take the function itself, and leave the cache to the values that come back).
identifier_value_is_pii = lru_cache(maxsize=PII_CACHE)(identifier_is_pii)


def looks_like_pii(text: str) -> bool:
    text = _without_nul(text)
    # One look, at the decoded text: decoding only adds '@', '+' and spaces, which hide nothing
    # a look at the text as written would find (an address whose own local part holds "%40"
    # is still found, from the decoded '@' on).
    return _holds_pii(_revealed(text))


def _holds_pii(text: str) -> bool:
    return bool(("@" in text and _EMAIL.search(text))
                or ("/" in text and (_PHONE_SLASHED.search(text) or _PHONE_AREA.search(text)))
                or (_may_hold_phone(text) and _PHONE.search(text)))


def _without_nul(text: str) -> str:
    """NULs dropped: a UTF-16 payload decoded as UTF-8 (a dead letter's bytes) has one after
    every ASCII character, which would hide every address from the patterns."""
    return text.replace("\x00", "") if "\x00" in text else text


def _may_hold_phone(text: str) -> bool:
    """At least 9 digits. On a long text ten str.count calls (in C) cost far less than letting
    the phone pattern try every position; \\d is Unicode, so non-ASCII text is not filtered."""
    return len(text) < 256 or not text.isascii() or sum(map(text.count, "0123456789")) >= 9


#: Texts up to this length are memoized by `masked`: labels, property keys and touchpoints
#: repeat on almost every event; longer texts are mostly unique.
MEMO_CHARS = 64


def masked(text: str) -> str:
    """`text` with anything PII-looking masked (itself when there is none)."""
    return _masked_short(text) if len(text) <= MEMO_CHARS else _masked(text)


def _masked(text: str) -> str:
    return mask_text(text) if looks_like_pii(text) else text


_masked_short = lru_cache(maxsize=1 << 14)(_masked)


def mask_tree(value: object, depth: int = 0) -> object:
    """Mask PII-looking strings anywhere in a JSON value (properties, context, traits)."""
    if isinstance(value, str):
        return masked(value)
    if depth > 32:
        return None
    if isinstance(value, dict):
        # Keys too: a form field named after its value ({"jane@x.com": true}) is not rare.
        return {masked(k): _field_masked(k, v, depth) for k, v in value.items()}
    if isinstance(value, list):
        if set(map(type, value)) <= _SCALARS:  # numbers, booleans, nulls: nothing to mask, no walk
            return value
        return [mask_tree(v, depth + 1) for v in value]
    return value


def _field_masked(key: str, value: object, depth: int) -> object:
    """A field's value. Under a phone- or email-named key ({"phone": "06 - 12 - 34 - 56 - 78"},
    a Segment identify's traits), whatever may be one is masked whole, however it is spelled:
    normalise_phone reads more spellings than the free-text patterns can."""
    kind = type(value)
    if kind is str:
        field = _field_kind(key)
        return masked(value) if field is None else _field_value_masked(field, value)  # type: ignore[arg-type]
    if kind is int or kind is float:
        return _phone_number_masked(key, value)  # type: ignore[arg-type]
    if kind is list and _field_kind(key) is not None:
        return [_field_masked(key, v, depth + 1) if type(v) in (str, int, float) else mask_tree(v, depth + 1)
                for v in value]  # type: ignore[attr-defined]
    return mask_tree(value, depth + 1)


@lru_cache(maxsize=1 << 12)
def _field_kind(key: str) -> str | None:
    """'phone' or 'email' when a field's name says it holds one (keys repeat: cached)."""
    return "phone" if _PHONE_FIELD.search(key) else "email" if _EMAIL_FIELD.search(key) else None


def _field_value_masked(field: str, value: str) -> str:
    """7 digits or more under a phone-named key, an '@' however written under an email-named
    one: the whole value; anything else as free text ({"phone_verified": "yes"} stays)."""
    if field == "phone" and sum(map(value.count, "0123456789")) >= 7:
        return "[phone]"
    if field == "email" and _AT_WRITTEN.search(value):
        return "[email]"
    return masked(value)


def _phone_number_masked(key: str, value: float) -> object:
    """A number under a phone-named key ({"phone": 612345678}) with 8 to 15 digits: '[phone]'."""
    if 1e7 <= abs(value) < 1e15 and _field_kind(key) == "phone":
        return "[phone]"
    return value


def scrubbed(value: object, secrets: tuple[tuple[str, str], ...], depth: int = 0) -> object:
    """`value` with every occurrence of these raw identifier values ((text, mask) pairs)
    replaced: an email or phone the event was stitched by never stays readable beside its
    hash, under whatever key and in whatever spelling the patterns would not know. As deep as
    `mask_tree` keeps (it drops what lies deeper)."""
    if isinstance(value, str):
        for secret, mask in secrets:
            if secret in value:
                value = value.replace(secret, mask)
        return value
    if depth > 32:
        return value
    if isinstance(value, dict):
        return {scrubbed(k, secrets): scrubbed(v, secrets, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [scrubbed(v, secrets, depth + 1) for v in value]
    return value


def dead_letter_text(raw: bytes) -> str:
    """What `parcours.dead_letters.raw` keeps of a rejected message (the DLQ topic keeps the
    bytes): the text, masked through escapes, then cut. Cut first, an address or a number at
    the cut would lose the part the patterns need and keep the rest ("straddle.l")."""
    text = _decoded(raw[:DEAD_LETTER_HEAD_BYTES])
    return masked_through_escapes(text[:DEAD_LETTER_CHARS + _CUT_MARGIN])[:DEAD_LETTER_CHARS]


def _decoded(raw: bytes) -> str:
    """UTF-8; else (an export from a Windows tool) cp1252, so that its no-break spaces stay
    spaces between a number's digit groups instead of U+FFFD, which the patterns cannot see
    through. A character cut at the end is not a reason to switch."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start >= len(raw) - 3 and error.reason == "unexpected end of data":
            return raw.decode("utf-8", errors="replace")
        return raw.decode("cp1252", errors="replace")


def masked_through_escapes(text: str) -> str:
    """A dead letter's text (its reason, its raw copy) masked, also where an escape hides a
    character: ClickHouse's JSONExtract would decode "jane\u0040x.fr", and "\t0612345678" holds
    a number after a tab. Escapes are decoded only where that reveals something to mask, so the
    rest keeps the spelling it came with; those JSON must keep stand in as private-use
    characters while the patterns run, and are put back."""
    holders = None if "\\" not in text else next((h for h, present in _HOLDER_SETS if not present.search(text)),
                                                  None)
    if holders is None:
        return _glued_numbers_masked(mask_text(text))
    kept: dict[str, str] = {}
    plain = _ESCAPE.sub(lambda escape: _escaped_char(escape, kept, holders), text)
    if plain != text and (out := _glued_numbers_masked(mask_text(plain))) != plain:
        for escape, holder in kept.items():
            out = out.replace(holder, escape)
        return out
    return _glued_numbers_masked(mask_text(text))


def _glued_numbers_masked(text: str) -> str:
    if "@" in text:
        text = _EMAIL_CUT.sub("[email]", text)
    if '":' in text:
        text = _KEYED_STRING.sub(_keyed_string_masked, text)
    return _PHONE_GLUED.sub("[phone]", text) if _may_hold_phone(text) else text


def _keyed_string_masked(pair: re.Match[str]) -> str:
    """A `"phone": "20 12 34 56"` pair in a rejected message's text, as `mask_tree` would do
    it in an accepted one: the whole value, however spelled (a national number too short
    for the patterns)."""
    field = _field_kind(pair.group(1))
    if field is None:
        return pair.group()
    value = _field_value_masked(field, pair.group(2))
    return pair.group() if value == pair.group(2) else pair.group()[:pair.start(2) - pair.start()] + value + '"'


def _escaped_char(escape: re.Match[str], kept: dict[str, str], holders: range) -> str:
    """The character, except those JSON must keep escaped (quote, backslash, controls) and
    surrogates, which get a holder from `kept`: the masked copy of a JSON document stays a JSON
    document."""
    pairs, short = escape.group(3), escape.group(4)
    if short is not None:
        if short == "/":
            return pairs + "/"
        kept_escape = "\\" + short
    else:
        code = int(escape.group(1) or escape.group(2), 16)
        if _decodable(code):
            return chr(code)
        pairs, kept_escape = "", escape.group()
    if kept_escape not in kept and len(kept) < len(holders):
        kept[kept_escape] = chr(holders[len(kept)])
    return pairs + kept.get(kept_escape, kept_escape)
