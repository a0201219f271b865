"""`govhub dispute ...`: escalate a refused application to the sharing authority and decide it.

Errors are printed Chinese first, then English (`cli.support.bilingual`).
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any

import typer
from rich.table import Table

from cli.catalog import AsDepartment, catalog_session
from cli.support import BEIJING_COLUMN, beijing, bilingual, console

__all__ = ["dispute_app"]

dispute_app = typer.Typer(
    help="共享争议 — escalate a refused application; the hub administrators decide.", no_args_is_help=True
)

_STATUS = {"open": "待处理 open", "granted": "准予共享 granted", "upheld": "维持不予共享 upheld"}


def _countdown(dispute: Any) -> str:
    """Working days left before the due date (open disputes), or how many it is overdue."""
    from catalog import utcnow, working_days_left

    if dispute.status != "open":
        return "—"
    due = dispute.due_at if dispute.due_at.tzinfo else dispute.due_at.replace(tzinfo=UTC)  # SQLite: naive UTC
    left = working_days_left(utcnow(), due)
    return f"剩 {left} 个工作日 ({left} left)" if left >= 0 else f"[red]逾期 {-left} 个工作日 ({-left} overdue)[/]"


def _dispute_table(disputes: list[Any], title: str) -> Table:
    table = Table(title=title)
    for column in (
        "id",
        "申请 #",
        "raised by 申请部门",
        "grounds 理由",
        "due 期限" + BEIJING_COLUMN,
        "left 剩余",
        "status 状态",
        "decision 决定",
    ):
        table.add_column(column)
    for d in disputes:
        status = _STATUS.get(d.status, d.status) + (" (逾期 overdue)" if d.overdue() else "")
        decision = f"{d.decided_by}: {d.decision_reason}" if d.decided_by else "—"
        table.add_row(
            str(d.id),
            str(d.subscription_id),
            d.raised_by,
            d.grounds,
            beijing(d.due_at),
            _countdown(d),
            status,
            decision,
        )
    return table


@dispute_app.command("escalate")
@bilingual
def escalate_cmd(
    subscription_id: Annotated[
        int, typer.Argument(help="被拒绝（或逾期未答复）的共享申请编号 — the application's id.")
    ],
    as_department: AsDepartment,
    grounds: Annotated[str, typer.Option(help="提请理由 — why the data is needed despite the answer.")],
) -> None:
    """提请共享争议协调 — take a refused or overdue application to the sharing authority (the applicant only)."""
    from govhub.sharing_disputes import escalate_logged

    with catalog_session() as session:
        dispute = escalate_logged(session, subscription_id, actor_department=as_department, grounds=grounds)
        console.print(_dispute_table([dispute], f"协调 #{dispute.id}"))


@dispute_app.command("decide")
@bilingual
def decide_cmd(
    dispute_id: Annotated[int, typer.Argument(help="共享争议编号 — the dispute's id.")],
    as_actor: Annotated[str, typer.Option("--as", help="必须为 govhub-admin（共享主管部门）— the sharing authority.")],
    grant: Annotated[
        bool,
        typer.Option("--grant/--uphold", help="准予共享或维持不予共享 — grant the application or uphold the refusal."),
    ],
    reason: Annotated[str, typer.Option(help="处理理由 — reasons for the decision.")],
) -> None:
    """处理共享争议 — decide a dispute as the sharing authority; logged (API: POST /api/disputes/{id}/decide)."""
    from govhub.sharing_disputes import decide_logged

    with catalog_session() as session:
        dispute = decide_logged(
            session,
            dispute_id,
            actor=as_actor,
            outcome="granted" if grant else "upheld",
            reason=reason,
            decided_with="cli",
        )
        console.print(_dispute_table([dispute], f"协调 #{dispute.id}"))


@dispute_app.command("list")
@bilingual
def list_cmd(
    as_department: Annotated[
        str | None, typer.Option("--as", help="只看该部门的争议 — only this department's disputes.")
    ] = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="只看逾期未处理的争议 — only open disputes past their due date.")
    ] = False,
) -> None:
    """查看共享争议 — disputes raised by or against a department (all without --as), with working days left."""
    from catalog import get_department, list_disputes, overdue_disputes

    with catalog_session() as session:
        code = get_department(session, as_department).code if as_department else None
        disputes = overdue_disputes(session) if overdue else list_disputes(session, department=code)
        console.print(_dispute_table(disputes, "共享争议 disputes"))
        if not disputes:
            console.print("暂无共享争议 — no disputes")
