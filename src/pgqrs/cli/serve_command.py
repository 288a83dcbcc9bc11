"""`pgqrs serve`: the web dashboard, JSON API, /metrics and /healthz (the `serve` extra)."""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated

import typer

from pgqrs import errors
from pgqrs.cli import failures, options, output
from pgqrs.cli import session as session_module

_Host = Annotated[str, typer.Option("--host", help="Address to listen on (loopback unless told otherwise).")]
_Port = Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")]
_Actions = Annotated[
    bool,
    typer.Option(
        "--allow-actions",
        help="Accept requeue, delete and purge; each needs the token in PGQRS_SERVE_TOKEN.",
    ),
]
_Cap = Annotated[
    int, typer.Option("--count-cap", min=1, help="Message counts above this show as 'more than'.")
]
_Refresh = Annotated[
    float, typer.Option("--refresh", min=0.2, max=60, help="Seconds between the pages' refreshes.")
]


def register(app: typer.Typer) -> None:
    """Add `serve` to the top-level command."""
    app.command("serve")(serve)


def serve(
    context: typer.Context,
    host: _Host = "127.0.0.1",
    port: _Port = 8321,
    allow_actions: _Actions = False,
    count_cap: _Cap = 100_000,
    refresh: _Refresh = 2.0,
) -> None:
    """Serve the dashboard (pages, JSON API under /api, /metrics, /healthz) until Ctrl-C.

    Read-only unless --allow-actions; then each action needs the token PGQRS_SERVE_TOKEN
    (never an option: command lines are visible to every user of the machine).
    """
    try:
        from pgqrs import serve as serve_package
    except ImportError as error:
        raise failures.CommandFailed(
            f"pgqrs serve needs the serve extra: pip install 'pgqrs-py[serve]' ({error.name} is missing)"
        ) from None
    token = os.environ.get(serve_package.TOKEN_VARIABLE) or None
    try:
        settings = serve_package.ServeSettings(
            allow_actions=allow_actions, token=token, count_cap=count_cap, refresh_seconds=refresh
        )
    except errors.ConfigError as error:
        raise failures.UsageFailure(error.message) from None
    session = options.session_of(context)
    config = session.config()
    if session.embedded_fallback:
        session_module.announce_embedded()
    mode = "actions need the token" if allow_actions else "read-only"
    output.note(session, f"pgqrs serve: http://{_shown(host)}:{port}/ (schema {config.schema}; {mode})")
    if not _loopback(host):
        output.note(session, f"pgqrs serve: listening on {host}: whoever reaches this port sees your queues")
    serve_package.run(config, settings, host=host, port=port)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _shown(host: str) -> str:
    return f"[{host}]" if ":" in host else host
