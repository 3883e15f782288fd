"""Bodies only Python's json reads: one bad value must cost its message, not the batch.

strategy: Python's json writes float('nan') as a bare `NaN` (and infinities as `Infinity`),
which the Segment and RudderStack Python SDKs send as is; a number beyond ±1.8e308 (1e400) or
a lone UTF-16 surrogate escape (\\ud800) comes from other encoders. orjson refuses the whole
body for any of them, and a 400 makes an SDK drop every message of its batch. So when orjson
refuses a body, Python's parser splits it (`loads`; nothing else reaches this module), and
each message is written back on its own (`encode`): a clean one as orjson writes it, one that
holds what JSON cannot as Python's json writes it (`NaN`, `Infinity`, `\\ud800`), which ingest
dead-letters as `not_json`, as it does the same line in a replay file. orjson would have
written NaN and Infinity as null (a NaN revenue counted as 0) and refused a lone surrogate.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from pipeline.ingest.pii import masked

_SURROGATE = re.compile("[\ud800-\udfff]")
#: orjson writes integers in [-2**63, 2**64); it reads larger ones as floats, and so does `loads`.
_INT_RANGE = range(-(2**63), 2**64)
#: Path segments shown in a warning, each cut to this many characters.
KEY_CHARS = 40


def loads(body: bytes) -> Any:
    """Python's reading of a UTF-8 JSON body (NaN, Infinity, 1e400 as inf, lone surrogates);
    ValueError (RecursionError when too deep) when even it cannot read it."""
    return json.loads(body.decode(), parse_int=_int)


def encode(message: object) -> tuple[bytes, str | None]:
    """One message as the bytes to produce, and what in it JSON cannot hold (None: nothing)."""
    found = flaw(message)
    if found is None:
        return orjson.dumps(message), None
    return json.dumps(message, separators=(",", ":")).encode(), found  # ensure_ascii: \ud800 escaped


def flaw(value: object) -> str | None:
    """The first value (in document order) JSON has no form for, where it is and what to do,
    e.g. "properties.revenue is NaN, which is not JSON (send null or leave the field out)"."""
    stack: list[tuple[tuple[str | int, ...], object]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return _non_finite(path, item)
        if isinstance(item, str) and _SURROGATE.search(item):
            return f"{_where(path)} holds a lone UTF-16 surrogate, which is not text (send valid Unicode)"
        if isinstance(item, dict):
            if any(_SURROGATE.search(key) for key in item):
                return f"a key of {_where(path)} holds a lone UTF-16 surrogate (send valid Unicode)"
            stack.extend(((*path, key), child) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend(((*path, i), child) for i, child in reversed(list(enumerate(item))))
    return None


def _non_finite(path: tuple[str | int, ...], number: float) -> str:
    if math.isnan(number):
        return f"{_where(path)} is NaN, which is not JSON (send null or leave the field out)"
    sign = "-" if number < 0 else ""
    return (f"{_where(path)} is {sign}Infinity or a number beyond ±1.8e308 (such as 1e400), which is not "
            "JSON (send null, a finite number or a string)")


def _where(path: tuple[str | int, ...]) -> str:
    """properties.items[2].price; keys PII-masked (a form field may be named after its value)."""
    if not path:
        return "the message"
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part.encode(errors="backslashreplace").decode()  # a lone surrogate, shown escaped
            out += ("." if out else "") + masked(text)[:KEY_CHARS]
    return out


def _int(text: str) -> int | float:
    number = int(text)
    return number if number in _INT_RANGE else float(text)  # float('1' * 400) is inf, as 1e400
