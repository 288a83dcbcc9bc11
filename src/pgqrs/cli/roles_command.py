"""`pgqrs roles`: the least-privilege roles (producer, consumer, observer) for the schema."""

from __future__ import annotations

from typing import Annotated

import typer

from pgqrs import errors, roles
from pgqrs.cli import options, output


def register(app: typer.Typer) -> None:
    """Add `roles` to the top-level command."""
    app.command("roles")(roles_command)


def roles_command(
    context: typer.Context,
    prefix: Annotated[
        str, typer.Option("--prefix", help="Role names: PREFIX_producer, PREFIX_consumer, PREFIX_observer.")
    ] = roles.DEFAULT_PREFIX,
    print_sql: Annotated[
        bool, typer.Option("--print-sql", help="Print the SQL instead; connect to nothing.")
    ] = False,
) -> None:
    """Create least-privilege roles with their grants on the schema (run as the tables' owner)."""
    session = options.session_of(context)
    try:
        names = roles.role_names(prefix)
    except errors.ValidationError as error:
        raise typer.BadParameter(error.message, param_hint="'--prefix'") from None
    if print_sql:
        schema = session.schema()
        script = roles.roles_sql(schema, prefix)
        output.show_document(session, {"schema": schema, "roles": names, "sql": script}, script)
        return
    schema = session.config().schema
    with session.admin() as admin:
        admin.install_roles(prefix)
    output.show_document(
        session,
        {"schema": schema, "roles": names, "applied": True},
        "\n".join([f"granted on schema {schema!r}:", *(f"  {name}" for name in names.values())]),
    )
