"""`govhub delivery ...`: run deliveries to subscribing departments and list what was delivered."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli.support import BEIJING_COLUMN, beijing, console, friendly
from schemas import load_all

__all__ = ["delivery_app"]

delivery_app = typer.Typer(help="数据交付 — deliver changes to subscribing departments.", no_args_is_help=True)
_STATUS_COLOUR = {"done": "green", "failed": "red", "running": "yellow"}


def _versions(start: int | None, end: int) -> str:
    return f"snapshot→v{end}" if start is None else f"v{start}→v{end}"


@delivery_app.command("run")
@friendly
def run(
    resource: Annotated[str | None, typer.Argument(help="Resource to deliver (default: all).")] = None,
) -> None:
    """Deliver each resource's changes since their last version to every granted subscription."""
    from govhub.delivery_runner import run_deliveries

    names = sorted(load_all())
    if resource is not None and resource not in names:
        raise typer.BadParameter(f"unknown resource '{resource}'; choose one of: {', '.join(names)}")
    table = Table(title="govhub delivery — 数据交付")
    for column in ("resource", "subscription", "部门", "mode", "versions", "rows", "status", "where / error"):
        table.add_column(column)
    failed = 0
    for name in [resource] if resource else names:
        for r in run_deliveries(name):
            colour = _STATUS_COLOUR.get(r["status"], "white")
            failed += r["status"] == "failed"
            table.add_row(
                name,
                f"#{r['subscription_id']}",
                r["department_code"],
                r["mode"],
                _versions(r["from_version"], r["to_version"]),
                f"{r['rows']:,}",
                f"[{colour}]{r['status']}[/]",
                r["error"] or r["link"] or r["location"] or "",
            )
    if table.row_count:
        console.print(table)
    else:
        console.print("nothing to deliver: every granted subscription is up to date")
    if failed:
        raise typer.Exit(1)


@delivery_app.command("list")
@friendly
def list_(
    department: Annotated[str | None, typer.Option("--department", help="Only this department (its code).")] = None,
    resource: Annotated[str | None, typer.Option("--resource", help="Only this resource.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
) -> None:
    """Delivery records, newest first."""
    from exchange.delivery import list_deliveries
    from govhub.db import migrate, session_scope

    migrate()
    with session_scope() as session:
        rows = list_deliveries(session, department=department, resource=resource, limit=limit)
        table = Table(title="deliveries — 交付记录")
        for column in (
            "started" + BEIJING_COLUMN,
            "resource",
            "subscription",
            "部门",
            "mode",
            "versions",
            "rows",
            "status",
            "where",
        ):
            table.add_column(column)
        for d in rows:
            colour = _STATUS_COLOUR.get(d.status, "white")
            table.add_row(
                beijing(d.started_at),
                d.resource,
                f"#{d.subscription_id}",
                d.department_code,
                d.mode,
                _versions(d.from_version, d.to_version),
                f"{d.rows:,}",
                f"[{colour}]{d.status}[/]",
                d.error or d.location or "",
            )
    console.print(table)
