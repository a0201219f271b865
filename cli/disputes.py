"""`govhub dispute ...`: escalate a refused application to the sharing authority and decide it."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from cli.catalog import AsDepartment, catalog_session
from cli.support import console, friendly

__all__ = ["dispute_app"]

dispute_app = typer.Typer(
    help="共享争议 — escalate a refused application; the hub administrators decide.", no_args_is_help=True
)


def _dispute_table(disputes: list[Any], title: str) -> Table:
    table = Table(title=title)
    for column in ("id", "申请 #", "raised by 申请部门", "grounds 理由", "due 期限", "status 状态", "decision 决定"):
        table.add_column(column)
    for d in disputes:
        status = f"{d.status} (overdue 逾期)" if d.overdue() else d.status
        decision = f"{d.decided_by}: {d.decision_reason}" if d.decided_by else "—"
        table.add_row(
            str(d.id), str(d.subscription_id), d.raised_by, d.grounds, f"{d.due_at:%Y-%m-%d}", status, decision
        )
    return table


@dispute_app.command("escalate")
@friendly
def escalate_cmd(
    subscription_id: Annotated[int, typer.Argument(help="The refused (or overdue) application's id.")],
    as_department: AsDepartment,
    grounds: Annotated[str, typer.Option(help="Why the data is needed despite the answer.")],
) -> None:
    """Take a refused or overdue application to the sharing authority (the applicant only)."""
    from govhub.sharing_disputes import escalate_logged

    with catalog_session() as session:
        dispute = escalate_logged(session, subscription_id, actor_department=as_department, grounds=grounds)
        console.print(_dispute_table([dispute], f"协调 #{dispute.id}"))


@dispute_app.command("decide")
@friendly
def decide_cmd(
    dispute_id: Annotated[int, typer.Argument(help="Dispute id.")],
    as_actor: Annotated[str, typer.Option("--as", help="Must be govhub-admin (the sharing authority).")],
    grant: Annotated[bool, typer.Option("--grant/--uphold", help="Grant the application or uphold the refusal.")],
    reason: Annotated[str, typer.Option(help="Reasons for the decision.")],
) -> None:
    """Decide a dispute as the sharing authority; logged in the exchange log."""
    from govhub.sharing_disputes import decide_logged

    with catalog_session() as session:
        dispute = decide_logged(
            session, dispute_id, actor=as_actor, outcome="granted" if grant else "upheld", reason=reason
        )
        console.print(_dispute_table([dispute], f"协调 #{dispute.id}"))


@dispute_app.command("list")
@friendly
def list_cmd(
    as_department: Annotated[str | None, typer.Option("--as", help="Only this department's disputes.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open disputes past their due date.")] = False,
) -> None:
    """Disputes raised by or against a department (all without --as)."""
    from catalog import list_disputes, overdue_disputes

    with catalog_session() as session:
        disputes = overdue_disputes(session) if overdue else list_disputes(session, department=as_department)
        console.print(_dispute_table(disputes, "共享争议 disputes"))
