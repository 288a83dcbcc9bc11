"""pgqrs serve: a web dashboard, a JSON API, Prometheus metrics and a health check.

An ASGI application (Starlette) over the async API, with server-rendered pages and one small
script of our own (no build step). The library never imports this package; it needs the
``serve`` extra (``pip install 'pgqrs-py[serve]'``).

    app = pgqrs.serve.create_app(pgqrs.Config.load())   # any ASGI server
    pgqrs.serve.run(config, host="127.0.0.1", port=8321) # or uvicorn, as `pgqrs serve` does
"""

from __future__ import annotations

from pgqrs.serve.application import create_app, run
from pgqrs.serve.settings import DEFAULT_HOST, DEFAULT_PORT, TOKEN_VARIABLE, ServeSettings

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "TOKEN_VARIABLE", "ServeSettings", "create_app", "run"]
