"""`pgqrs worker run|list|remove-stale`: run an app's handlers; the workers in pgqrs_workers."""

from __future__ import annotations

from typing import Annotated

import typer

import pgqrs
from pgqrs.cli import app_loading, app_running, failures, options, output
from pgqrs.cli import session as session_module

app = typer.Typer(
    help="Run an app's handlers; list registered workers and remove stale ones.", no_args_is_help=True
)

_Target = Annotated[
    str,
    typer.Argument(
        help="The app: a pgqrs.App or pgqrs.sync.App (the current directory is importable).",
        metavar="MODULE:ATTR",
        show_default=False,
    ),
]
_Queues = Annotated[
    list[str] | None,
    typer.Option(
        "--queue",
        help="Work only this queue's handler; repeat for several (default: every handler's).",
        metavar="NAME",
        show_default=False,
    ),
]
_Concurrency = Annotated[
    int | None,
    typer.Option(min=1, help="Messages each handler runs at once (overrides the app's).", show_default=False),
]
_UntilEmpty = Annotated[
    bool, typer.Option("--until-empty", help="Exit once the queues hold nothing to do, retries included.")
]
_ShutdownTimeout = Annotated[
    float,
    typer.Option(
        "--shutdown-timeout",
        help="Seconds running handlers get to finish after SIGTERM or Ctrl-C.",
        metavar="SECONDS",
        callback=options.check_seconds,
    ),
]

_MetricsPort = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        min=0,
        max=65535,
        help="Serve the handlers' Prometheus metrics on this port (0: any free one; the metrics extra).",
        metavar="PORT",
        show_default=False,
    ),
]
_MetricsHost = Annotated[
    str, typer.Option("--metrics-host", help="Address the metrics are served on.", metavar="HOST")
]


@app.command("run")
def run_app(
    context: typer.Context,
    target: _Target,
    queues: _Queues = None,
    concurrency: _Concurrency = None,
    until_empty: _UntilEmpty = False,
    shutdown_timeout: _ShutdownTimeout = 30.0,
    metrics_port: _MetricsPort = None,
    metrics_host: _MetricsHost = "127.0.0.1",
) -> None:
    """Run an app's handlers until SIGTERM or Ctrl-C (graceful; a second signal: at once, exit 130).

    On a terminal a live line per queue counts what was handled; elsewhere each failure is a log line.

    At the end it prints the run's counts (--format json: RunStats.as_dict()).
    """
    session = options.session_of(context)
    worker_app = app_loading.load(target)
    worked = app_loading.queues_to_work(worker_app, target, queues)
    config = session.config()
    if session.embedded_fallback:
        session_module.announce_embedded()
    state = ["working"]

    def stopping(signals: int) -> None:
        if signals == 1:
            state[0] = "stopping (signal again to stop at once)"
            output.note(
                session,
                f"pgqrs: stopping: running handlers may finish within {shutdown_timeout:g}s; "
                "signal again to stop at once",
            )

    def run() -> pgqrs.RunStats:
        return app_running.run(
            worker_app,
            config=config,
            until_empty=until_empty,
            shutdown_timeout=shutdown_timeout,
            queues=worked,
            concurrency=concurrency,
        )

    with (
        app_running.metrics_served(metrics_port, metrics_host, lambda text: output.note(session, text)),
        output.live_run_stats(worked, lambda: (worker_app.stats, state[0])),
    ):
        finished = app_running.work(worker_app, run, stopping)
    # A blocking call of a handler stopped at shutdown may still run on a thread: do not wait.
    session.exit_at_once = finished.stopped_handlers
    if finished.stopped_at_once:
        raise failures.Interrupted(f"stopped at once, {finished.stats.released} message(s) given back")
    output.show_run_stats(session, finished.stats, worked)


@app.command("list")
def list_workers(context: typer.Context, queue: options.OptionalQueue = None) -> None:
    """List the workers of a queue, or of every queue."""
    session = options.session_of(context)
    with session.admin() as admin:
        workers = admin.list_workers(queue)
    output.show_records(session, workers, output.WORKER_COLUMNS, empty="no workers")


@app.command("remove-stale")
def remove_stale(
    context: typer.Context,
    older_than: Annotated[
        float,
        typer.Option(
            "--older-than",
            help="Remove workers without a heartbeat for this many seconds (database clock).",
            callback=options.check_seconds,
            show_default=False,
        ),
    ],
) -> None:
    """Delete the workers whose last heartbeat is older than --older-than seconds."""
    session = options.session_of(context)
    with session.admin() as admin:
        removed = admin.remove_stale_workers(older_than)
    output.show_document(
        session,
        {"removed": removed, "older_than_seconds": older_than},
        f"{removed} stale worker(s) removed",
    )
