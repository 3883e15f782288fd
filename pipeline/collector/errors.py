"""The collector's one error: a request it refuses, with the HTTP status and what to do next."""

from __future__ import annotations

from typing import Any


class Refused(Exception):
    """Nothing of the request was produced; the client gets `status` and this body.

    The body has Segment's error shape (`code`, `message`: what the SDKs log) plus a `hint`.
    4xx: the SDKs do not retry (the request itself is wrong); 5xx: they retry later.
    """

    def __init__(self, status: int, code: str, message: str, hint: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint

    def reply(self) -> dict[str, Any]:
        return {"success": False, "code": self.code, "message": self.message, "hint": self.hint}
