"""`pgqrs install`, `uninstall` and `verify`: the pgqrs tables in the configured schema."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from pgqrs import _migrations, errors
from pgqrs.cli import failures, options, output


def register(app: typer.Typer) -> None:
    """Add the schema commands to the top-level command."""
    app.command("install")(install)
    app.command("migrate")(migrate)
    app.command("uninstall")(uninstall)
    app.command("verify")(verify)


def install(
    context: typer.Context,
    print_sql: Annotated[
        bool,
        typer.Option(
            "--print-sql",
            help="Print the SQL of a fresh install (every migration) instead; connect to nothing.",
        ),
    ] = False,
    archive_partitioning: Annotated[
        str | None,
        typer.Option(
            "--archive-partitioning",
            help="daily: put the archive on day partitions (a new install, or an empty archive); "
            "default: the archive_partitioning setting (none).",
            metavar="none|daily",
        ),
    ] = None,
) -> None:
    """Create the pgqrs tables in the schema (which must exist), or upgrade them. Safe to run again."""
    session = options.session_of(context)
    if print_sql:
        schema = session.schema()
        script = _migrations.script(schema, None)
        output.show_document(session, {"schema": schema, "sql": script}, script)
        return
    schema = session.config().schema
    settings = {} if archive_partitioning is None else {"archive_partitioning": archive_partitioning}
    with session.admin(**settings) as admin:
        admin.install()
    output.show_document(
        session, {"schema": schema, "installed": True}, f"pgqrs is installed in schema {schema!r}"
    )


def migrate(
    context: typer.Context,
    print_sql: Annotated[
        bool,
        typer.Option("--print-sql", help="Print the SQL of the pending migrations instead of applying them."),
    ] = False,
) -> None:
    """Apply the pending schema migrations (what install does), or print their SQL."""
    session = options.session_of(context)
    schema = session.config().schema
    with session.admin() as admin:
        if print_sql:
            script = admin.migration_sql()
            output.show_document(session, {"schema": schema, "sql": script}, script or "-- nothing to apply")
            return
        applied = admin.migrate()
    document = {"schema": schema, "applied": applied, "version": _migrations.latest_version()}
    if applied:
        versions = ", ".join(map(str, applied))
        text = f"applied migration(s) {versions}; schema {schema!r} is at version {applied[-1]}"
    else:
        text = f"schema {schema!r} is current (version {_migrations.latest_version()})"
    output.show_document(session, document, text)


def uninstall(
    context: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Drop the pgqrs tables, with every queue and message (asks first on a terminal)."""
    session = options.session_of(context)
    schema = session.config().schema
    if not yes:
        if not sys.stdin.isatty():
            raise failures.UsageFailure(
                "uninstall drops every queue and message: pass --yes to confirm when stdin is not a terminal"
            )
        question = f"Drop the pgqrs tables in schema {schema!r}, with every queue and message?"
        if not _confirm(question):
            raise failures.CommandFailed("uninstall cancelled; nothing was changed")
    with session.admin() as admin:
        admin.uninstall()
    output.show_document(
        session, {"schema": schema, "uninstalled": True}, f"pgqrs is uninstalled from schema {schema!r}"
    )


def _confirm(question: str) -> bool:
    # Not typer.confirm: click's prompt writes a space to stdout, which belongs to the result.
    sys.stderr.write(f"{question} [y/N]: ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def verify(context: typer.Context) -> None:
    """Check that every pgqrs table, column and index is present; exit 1 listing what is not."""
    session = options.session_of(context)
    schema = session.config().schema
    with session.admin() as admin:
        try:
            admin.verify()
            problems: list[str] = []
        except errors.SchemaError as error:
            problems = error.problems or [error.message]
    document = {"schema": schema, "ok": not problems, "problems": problems}
    if not problems:
        output.show_document(session, document, f"pgqrs schema {schema!r} is complete")
        return
    output.show_document(session, document, "\n".join(f"- {problem}" for problem in problems))
    raise failures.CommandFailed(f"schema {schema!r} failed verification: {len(problems)} problem(s)")
