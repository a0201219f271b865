"""`govhub target ...`: delivery targets a hub administrator registers for departments (database mode)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.catalog import catalog_session
from cli.support import console, friendly

__all__ = ["target_app"]

target_app = typer.Typer(
    help="交付目标 — named department databases for database delivery (hub administrators).", no_args_is_help=True
)


@target_app.command("add")
@friendly
def add(
    department_code: Annotated[str, typer.Argument(help="Department code.")],
    name: Annotated[str, typer.Argument(help="Target name the department will pick (e.g. person-db).")],
    url: Annotated[
        bool, typer.Option("--url", help="Ask for the SQLAlchemy URL (hidden) and keep it in a 0600 secret file.")
    ] = False,
    secret_file: Annotated[Path | None, typer.Option(help="An existing secret file holding the URL.")] = None,
    setting: Annotated[str | None, typer.Option(help="A key of the GOVHUB_DELIVERY_TARGETS setting.")] = None,
) -> None:
    """Register (or re-point) a department's target; refused if it reaches the hub or another department."""
    from govhub.delivery_targets import add_target

    connection = typer.prompt("SQLAlchemy URL", hide_input=True, confirmation_prompt=False) if url else None
    with catalog_session() as session:
        target = add_target(
            session,
            department_code=department_code,
            name=name,
            url=connection,
            secret_file=secret_file,
            setting=setting,
        )
        console.print(f"target {target.name!r} of {target.department_code} registered ({target.source})")


@target_app.command("list")
@friendly
def list_cmd(department: Annotated[str | None, typer.Option(help="Only this department's.")] = None) -> None:
    """Registered targets: department, name and where the connection is held (never the connection)."""
    from catalog import list_targets

    table = Table(title="交付目标 delivery targets")
    for column in ("department", "name", "held in", "registered by", "registered at"):
        table.add_column(column)
    with catalog_session() as session:
        for t in list_targets(session, department=department):
            table.add_row(t.department_code, t.name, t.source, t.registered_by, f"{t.registered_at:%Y-%m-%d %H:%M}")
    console.print(table)


@target_app.command("remove")
@friendly
def remove(
    department: Annotated[str, typer.Argument(help="Department code.")],
    name: Annotated[str, typer.Argument(help="Target name.")],
) -> None:
    """Retire a target: deliveries naming it fail (recorded, retried) until the grant changes."""
    from catalog import remove_target

    with catalog_session() as session:
        remove_target(session, department, name)
    console.print(f"target {name!r} of {department} retired")
