"""The `pgqrs` command: global options, the command groups, and the entry point.

Global options come before the command (``pgqrs --format json queue list``) or after it
(``pgqrs queue list --format json``; see `global_options`). They are only recorded while the
command line is parsed, and applied when the command starts; the configuration is loaded by the
commands that need it, so a command can refuse a bad argument before reading any configuration
or connecting.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator, Sequence
from typing import Annotated, Any

import typer

import pgqrs
from pgqrs.cli import (
    app_running,
    archive_commands,
    bench_command,
    demo_command,
    embedded_commands,
    failures,
    global_options,
    message_commands,
    queue_commands,
    roles_command,
    schedule_commands,
    schema_commands,
    serve_command,
    worker_commands,
)
from pgqrs.cli import session as session_module

app = typer.Typer(
    name="pgqrs",
    help="pgqrs: a PostgreSQL-backed job queue. Manage the schema, queues, messages and workers.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    # "\b" keeps the plain (non-rich) help from joining the exit code lines into one paragraph.
    epilog="Global options may also follow the command: pgqrs queue list --format json.\n\n"
    + "Exit codes:\n\n\b\n"
    + "\n".join(f"{code}: {meaning}" for code, meaning in failures.EXIT_CODES),
)
schema_commands.register(app)
demo_command.register(app)
roles_command.register(app)
bench_command.register(app)
serve_command.register(app)
app.add_typer(queue_commands.app, name="queue")
app.add_typer(message_commands.app, name="message")
app.add_typer(archive_commands.app, name="archive")
app.add_typer(worker_commands.app, name="worker")
app.add_typer(schedule_commands.app, name="schedule")
app.add_typer(embedded_commands.app, name="embedded")


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"pgqrs {pgqrs.__version__}\n")
        raise typer.Exit()


@app.callback()
def record_global_options(
    context: typer.Context,
    dsn: Annotated[
        str | None,
        typer.Option(
            "--dsn",
            "-d",
            help="PostgreSQL DSN (overrides --config, PGQRS_DSN, pgqrs.yaml).",
            show_default=False,
        ),
    ] = None,
    config_file: Annotated[
        str | None,
        typer.Option(
            "--config", "-c", help="YAML config file (overrides the environment).", show_default=False
        ),
    ] = None,
    schema: Annotated[
        str | None,
        typer.Option(
            "--schema", help="Schema holding the pgqrs tables (default: public).", show_default=False
        ),
    ] = None,
    output_format: Annotated[
        global_options.Format, typer.Option("--format", help="Output format.")
    ] = global_options.Format.table,
    out: Annotated[
        str, typer.Option("--out", help="Write the result to PATH instead of stdout.", metavar="stdout|PATH")
    ] = "stdout",
    log_dest: Annotated[
        global_options.LogDestination | None,
        typer.Option(
            "--log-dest",
            help="Log destination (default: stderr, or file when --log-file is given).",
            show_default=False,
        ),
    ] = None,
    log_file: Annotated[
        str | None,
        typer.Option(
            "--log-file",
            help="Log file for --log-dest file (default: ./pgqrs.log).",
            metavar="PATH",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[
        global_options.LogLevel, typer.Option("--log-level", help="Log level.")
    ] = global_options.LogLevel.warn,
    version: Annotated[
        bool,
        typer.Option("--version", help="Show the version and exit.", callback=_show_version, is_eager=True),
    ] = False,
) -> None:
    """pgqrs: a PostgreSQL-backed job queue. Manage the schema, queues, messages and workers."""
    del version  # handled by its eager callback
    global_options.record(
        context.find_root().obj,
        {
            "dsn": dsn,
            "config_file": config_file,
            "schema": schema,
            "output_format": output_format,
            "out": out,
            "log_dest": log_dest,
            "log_file": log_file,
            "log_level": log_level,
        },
    )


def _subcommands(group: Any, skip: set[str]) -> Iterator[Any]:
    """Yield every command and group under `group`, except those named in `skip`."""
    for name, command in group.commands.items():
        if name not in skip:
            yield command
            if hasattr(command, "commands"):
                yield from _subcommands(command, skip)


def _leaf_commands(group: Any) -> Iterator[Any]:
    """Yield every command under `group` that runs something (not the groups themselves)."""
    for command in group.commands.values():
        if hasattr(command, "commands"):
            yield from _leaf_commands(command)
        elif command.callback is not None:
            yield command


def run(arguments: Sequence[str] | None = None) -> int:
    """Run the command line with `arguments` (default: sys.argv[1:]) and return the exit code."""
    session = session_module.Session()
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            # A payload the terminal's encoding cannot show must not crash the command.
            stream.reconfigure(errors="backslashreplace")
    command = typer.main.get_command(app)
    for leaf in _leaf_commands(command):
        leaf.callback = failures.reporting_interrupts(leaf.callback)
    # Not bench: it passes every argument after it to the harness, --dsn and --json included.
    global_options.accept_after(_subcommands(command, skip={"bench"}), command.params)
    try:
        result = command.main(
            args=list(sys.argv[1:] if arguments is None else arguments),
            prog_name="pgqrs",
            standalone_mode=False,
            obj=session,
        )
        code = result if isinstance(result, int) else failures.OK
    except BaseException as error:  # every failure ends as one line and an exit code
        if isinstance(error, SystemExit):
            raise
        code = failures.handle(error, session)
    if session.exit_at_once:
        app_running.exit_now(code)
    return code
