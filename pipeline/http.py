"""HTTP endpoints served by every worker on PARCOURS_HTTP_PORT (Faust's web server).

/health: the process is alive (compose health check). /ready: its stages are running.
Profiles, the collector and metrics come with later issues.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.web import Request, Response, View


def register(app: faust.App, ready: Any) -> None:
    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"status": "ok"})

    @app.page("/ready")
    class Ready(View):
        async def get(self, request: Request) -> Response:
            ok = bool(ready())
            return self.json({"ready": ok}, status=200 if ok else 503)
