"""`pgqrs bench`: the benchmark harness (pgqrs against a raw-SQL queue) on the configured server."""

from __future__ import annotations

import typer

from pgqrs.cli import failures, options

# Everything after `bench` goes to the harness's own parser (`pgqrs bench --help` is its help).
_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


def register(app: typer.Typer) -> None:
    """Add `bench` to the top-level command."""
    app.command("bench", context_settings=_PASS_THROUGH, add_help_option=False)(run_bench)


def run_bench(context: typer.Context) -> None:
    """Measure pgqrs against a hand-written raw-SQL queue on the configured server.

    Each target works in a schema of its own, created and dropped by the run. Options go to the
    harness: `pgqrs bench --help` lists them (--smoke, --workloads, --messages, --json, ...).
    Without any DSN configured it runs on the embedded PostgreSQL server.
    """
    from pgqrs import bench  # the harness is only imported by this command

    arguments = list(context.args)
    wants_server = not any(
        argument in ("-h", "--help", "--show") or argument.startswith(("--dsn", "--show="))
        for argument in arguments
    )
    if wants_server:
        session = options.session_of(context)
        with session.admin():
            pass  # fail fast, with the CLI's masked one-line error, on a wrong DSN
        arguments = ["--dsn", session.config().dsn, *arguments]
    code = bench.run(arguments)
    if code:
        raise failures.CommandFailed(f"the benchmark failed (exit status {code}): see above")
