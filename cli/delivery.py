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


MASKED_HINT = (
    "脱敏字段：未获准访问未脱敏个人信息（pii_access=false）；如需未脱敏数据，请以 govhub subscription apply "
    "--pii-access 重新申请，由提供部门审批 — masked: no PII access granted; apply again with --pii-access "
    "(the provider decides)"
)


def _masked(resource: str, names: list[str]) -> str:
    """The masked fields of a delivery with their contract labels: 性别(gender)、出生日期(birth_date)."""
    if not names:
        return ""
    contract = load_all()[resource]
    return "、".join(f"{contract.field(n).label}({n})" for n in names)


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
    for column in (
        "resource",
        "subscription",
        "部门",
        "mode",
        "versions",
        "rows",
        "status",
        "脱敏 masked",
        "where / error",
    ):
        table.add_column(column)
    failed, masked_any = 0, False
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
                _masked(name, r["masked_fields"]),
                r["error"] or r["link"] or r["location"] or "",
            )
            masked_any = masked_any or bool(r["masked_fields"])
    if table.row_count:
        console.print(table)
        if masked_any:
            console.print(MASKED_HINT, highlight=False)
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
    from catalog.subscriptions import Subscription
    from cli.masking import masked_cell
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
            "脱敏 masked",
            "where",
        ):
            table.add_column(column)
        masked_any = False
        for d in rows:
            colour = _STATUS_COLOUR.get(d.status, "white")
            sub = session.get(Subscription, d.subscription_id)
            masked = masked_cell(d.resource, sub.fields, pii_access=sub.pii_access) if sub is not None else ""
            masked_any = masked_any or bool(masked)
            table.add_row(
                beijing(d.started_at),
                d.resource,
                f"#{d.subscription_id}",
                d.department_code,
                d.mode,
                _versions(d.from_version, d.to_version),
                f"{d.rows:,}",
                f"[{colour}]{d.status}[/]",
                masked,
                d.error or d.location or "",
            )
    console.print(table)
    if masked_any:
        console.print(MASKED_HINT, highlight=False)
