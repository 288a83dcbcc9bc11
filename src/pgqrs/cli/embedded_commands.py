"""`pgqrs embedded status|stop`: the embedded PostgreSQL server of the configured data directory.

The data directory is the one the configured DSN names (``embedded:PATH``), or the default one
when the DSN is ``embedded`` or none is configured. Neither command starts the server.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from pgqrs import _embedded
from pgqrs.cli import failures, options, output
from pgqrs.cli import session as session_module

app = typer.Typer(help="Show or stop the embedded PostgreSQL server.", no_args_is_help=True)


@app.command("status")
def status(context: typer.Context) -> None:
    """Say whether the embedded server runs on its data directory, with its pid and socket."""
    session = options.session_of(context)
    found = _server_call(_embedded.server_status, _data_dir(session))
    output.show_fields(
        session,
        {
            "data_dir": str(found.data_dir),
            "running": found.pid is not None,
            "pid": found.pid,
            "port": found.port,
            "socket_dir": found.socket_dir,
        },
    )


@app.command("stop")
def stop(context: typer.Context) -> None:
    """Stop the embedded server (a fast shutdown, as pg_ctl stop); its data is kept.

    stopped is false when no server ran there.
    """
    session = options.session_of(context)
    stopped = _server_call(_embedded.stop_server, _data_dir(session))
    fields = {"data_dir": str(stopped.data_dir), "stopped": stopped.pid is not None, "pid": stopped.pid}
    output.show_fields(session, fields)


def _data_dir(session: session_module.Session) -> Path:
    config = session.config()
    if not _embedded.is_embedded_dsn(config.dsn):
        raise failures.UsageFailure(
            f"the configured DSN ({config.masked_dsn}) is not the embedded server:"
            " pass --dsn embedded or --dsn embedded:PATH"
        )
    try:
        return _embedded.data_dir_for(config.dsn)
    except _embedded.EmbeddedServerError as error:
        raise failures.UsageFailure(str(error)) from None


def _server_call(call: Callable[[Path], _embedded.ServerStatus], data_dir: Path) -> _embedded.ServerStatus:
    try:
        return call(data_dir)
    except _embedded.EmbeddedServerError as error:
        raise failures.CommandFailed(str(error)) from None
