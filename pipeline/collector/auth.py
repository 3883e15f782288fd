"""Write keys, as Segment and RudderStack send them.

The SDKs send the write key as the user name of HTTP basic auth with an empty password;
Segment's HTTP API also accepts `writeKey` in the body. When PARCOURS_WRITE_KEYS lists keys,
one of them is required; when it is empty, any key (or none) is accepted, so a local
`parcours up` works with whatever key an SDK was configured with.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from pipeline.collector.errors import Refused

HINT = ("set the SDK's write key (HTTP basic auth user name, empty password) to one of "
        "PARCOURS_WRITE_KEYS, or unset PARCOURS_WRITE_KEYS to accept any key")


def write_key_of(authorization: str | None, body_key: object = None) -> str | None:
    """The basic-auth user name, else the body's `writeKey`, else None."""
    if authorization and authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        user = decoded.partition(":")[0]
        if user:
            return user
    return body_key if isinstance(body_key, str) and body_key else None


def check_write_key(key: str | None, allowed: tuple[str, ...]) -> None:
    """Refused(401) unless `allowed` is empty or holds `key`. The key is never echoed back:
    error replies end up in client logs."""
    if not allowed:
        return
    if key is None:
        raise Refused(401, "missing_write_key", "no write key in the request", HINT)
    # compare_digest: the time taken does not tell how much of a key matched
    # surrogatepass: a body only Python's json could read may hold a lone surrogate (lenient.py)
    if not any(hmac.compare_digest(key.encode(errors="surrogatepass"), k.encode()) for k in allowed):
        raise Refused(401, "invalid_write_key", "the write key is not accepted", HINT)
