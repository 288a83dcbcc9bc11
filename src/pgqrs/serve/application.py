"""Build the ASGI application and run it with uvicorn."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from pgqrs import config as config_module
from pgqrs import errors
from pgqrs.serve import actions, api, auth, monitoring, pages, settings, source, web

logger = logging.getLogger("pgqrs.serve")


def create_app(
    config: config_module.Config, options: settings.ServeSettings | None = None
) -> Starlette:
    """Return the dashboard as an ASGI application; it connects to the database on first need.

    Args:
        config: Where the pgqrs schema is (its DSN and schema).
        options: Actions, token, count cap, refresh interval; read-only defaults when None.
    """
    chosen = options if options is not None else settings.ServeSettings()
    data = source.Source(config, chosen)
    dashboard = web.Web(data, auth.Guard(chosen.token), chosen)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await data.close()

    async def failed(request: Request, error: Exception) -> Response:
        return dashboard.failure(request, error)

    static = StaticFiles(packages=[("pgqrs.serve", "static")])
    app = Starlette(
        routes=[
            *pages.routes(),
            *actions.routes(),
            *api.routes(),
            *monitoring.routes(),
            Mount("/static", static, name="static"),
        ],
        exception_handlers={
            errors.PgqrsError: failed,
            web.Refused: failed,
            ValueError: failed,
        },
        lifespan=lifespan,
    )
    app.state.web = dashboard
    return app


def run(
    config: config_module.Config,
    options: settings.ServeSettings | None = None,
    host: str = settings.DEFAULT_HOST,
    port: int = settings.DEFAULT_PORT,
) -> None:
    """Serve the dashboard until interrupted (Ctrl-C or SIGTERM)."""
    app = create_app(config, options)
    logger.info("pgqrs serve on http://%s:%d (schema %s)", host, port, config.schema)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, server_header=False)
