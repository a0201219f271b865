"""`govhub correction ...`: flag a wrong published value (校核纠错), answer it as the provider, follow it."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from cli.catalog import AsDepartment, catalog_session
from cli.support import BEIJING_COLUMN, beijing, console, friendly

__all__ = ["correction_app"]

correction_app = typer.Typer(
    help="校核纠错 — flag a wrong value on a published record; the provider confirms or rejects.",
    no_args_is_help=True,
)

_STATUS_ZH = {"open": "待核实", "confirmed": "已确认待更正", "rejected": "已驳回", "closed": "已更正关闭"}


def _table(flags: list[Any], title: str) -> Table:
    table = Table(title=title)
    for column in (
        "id",
        "resource 资源",
        "field 信息项",
        "reporter 提出方",
        "problem 错误情况",
        f"due 期限{BEIJING_COLUMN}",
        "status 状态",
        "answer 答复",
    ):
        table.add_column(column)
    for f in flags:
        state = f"{f.status} {_STATUS_ZH.get(f.status, '')}" + (" (overdue 逾期)" if f.overdue() else "")
        answer = f"{f.decided_by}: {f.decision_reason or '—'}" if f.decided_by else "—"
        if f.closed_version is not None:
            answer += f" → closed at version {f.closed_version}"
        reporter = f"{f.reporter_kind}:{f.reporter}" + (f" ({f.case_number})" if f.case_number else "")
        table.add_row(str(f.id), f.resource, f.field, reporter, f.problem, beijing(f.due_at), state, answer)
    return table


def _reporter(
    session: Any, as_department: str | None, client: str | None, case_number: str | None, admin: str | None
) -> Any:
    from catalog import CatalogError, Reporter, get_department

    given = [x for x in (as_department, client, admin) if x]
    if len(given) != 1:
        raise CatalogError(
            "report as exactly one of --as DEPARTMENT, --client CLIENT_ID or --admin NAME",
            message_zh="须指定且只能指定一个提出方：--as 部门、--client 核验客户端或 --admin 数据管理员",
            field="reporter",
        )
    if as_department:
        return Reporter("department", get_department(session, as_department).code)
    if client:
        return Reporter("client", client, case_number=case_number)
    return Reporter("admin", str(admin))


@correction_app.command("flag")
@friendly
def flag_cmd(
    resource: Annotated[str, typer.Argument(help="Resource (contract name or catalogue code).")],
    record_key: Annotated[str, typer.Argument(help="The record's primary key as published.")],
    field: Annotated[str, typer.Argument(help="The field whose value is wrong.")],
    problem: Annotated[str, typer.Option(help="错误情况: what is wrong.")],
    evidence: Annotated[str | None, typer.Option(help="证据说明: evidence as text.")] = None,
    evidence_ref: Annotated[str | None, typer.Option(help="证据材料: a document number or link.")] = None,
    as_department: Annotated[str | None, typer.Option("--as", help="Report as this department.")] = None,
    client: Annotated[str | None, typer.Option(help="Report as this verification client.")] = None,
    case_number: Annotated[str | None, typer.Option(help="办件编号 (with --client).")] = None,
    admin: Annotated[str | None, typer.Option(help="Report as this data administrator.")] = None,
) -> None:
    """Flag a wrong value; the provider's answer is due in GOVHUB_CORRECTION_ANSWER_WORKING_DAYS working days."""
    from govhub.corrections import flag_logged

    with catalog_session() as session:
        flag = flag_logged(
            session,
            reporter=_reporter(session, as_department, client, case_number, admin),
            resource=resource,
            record_key=record_key,
            field=field,
            problem=problem,
            evidence_text=evidence,
            evidence_ref=evidence_ref,
        )
        console.print(_table([flag], f"纠错 #{flag.id}"))


def _decide(flag_id: int, as_department: str, reason: str | None, *, confirm: bool) -> None:
    from catalog import get_department
    from govhub.corrections import decide_logged

    with catalog_session() as session:
        flag = decide_logged(
            session,
            flag_id,
            actor_department=get_department(session, as_department).code,
            confirm=confirm,
            reason=reason,
        )
        console.print(_table([flag], f"纠错 #{flag.id}"))


@correction_app.command("confirm")
@friendly
def confirm_cmd(
    flag_id: Annotated[int, typer.Argument(help="Flag id.")],
    as_department: AsDepartment,
    reason: Annotated[str | None, typer.Option(help="What was found and how the source is corrected.")] = None,
) -> None:
    """Confirm the error as the provider; correct the source, the next version that fixes it closes the flag."""
    _decide(flag_id, as_department, reason, confirm=True)


@correction_app.command("reject")
@friendly
def reject_cmd(
    flag_id: Annotated[int, typer.Argument(help="Flag id.")],
    as_department: AsDepartment,
    reason: Annotated[str, typer.Option(help="Why the published value is right.")],
) -> None:
    """Reject the flag as the provider, with reasons."""
    _decide(flag_id, as_department, reason, confirm=False)


@correction_app.command("list")
@friendly
def list_cmd(
    as_department: Annotated[str | None, typer.Option("--as", help="Only this department's flags.")] = None,
    status: Annotated[str | None, typer.Option(help="open, confirmed, rejected or closed.")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open flags past their due date.")] = False,
) -> None:
    """Flags raised by or against a department (all without --as); overdue ones are marked and logged."""
    from catalog import Reporter, get_department, list_flags
    from govhub.corrections import overdue_logged

    with catalog_session() as session:
        overdue_logged(session)
        viewer = Reporter("department", get_department(session, as_department).code) if as_department else None
        flags = list_flags(session, viewer=viewer, status=status)
        if overdue:
            flags = [f for f in flags if f.overdue()]
        console.print(_table(flags, "数据纠错 corrections"))


@correction_app.command("show")
@friendly
def show_cmd(flag_id: Annotated[int, typer.Argument(help="Flag id.")]) -> None:
    """One flag with its evidence and every step."""
    from catalog import get_flag

    with catalog_session() as session:
        flag = get_flag(session, flag_id)
        console.print(_table([flag], f"纠错 #{flag.id}"))
        console.print(
            f"record 记录: {flag.resource} {flag.record_key} · value 被指错误的值: {flag.flagged_value!r} "
            f"(version {flag.flagged_version})"
        )
        console.print(f"evidence 证据: {flag.evidence_text or '—'} · {flag.evidence_ref or '—'}")
        steps = Table(title="steps 处理过程")
        for column in (f"at 时间{BEIJING_COLUMN}", "action 步骤", "actor 处理方", "note 说明"):
            steps.add_column(column)
        for e in flag.events:
            steps.add_row(beijing(e.at, seconds=True), e.action, e.actor, e.note or "")
        console.print(steps)


@correction_app.command("check")
@friendly
def check_cmd(resource: Annotated[str, typer.Argument(help="Resource whose confirmed flags to check.")]) -> None:
    """Compare confirmed flags with the current published version and close the corrected ones (runs after publish)."""
    from govhub.corrections import check_published

    closed = check_published(resource)
    console.print(f"closed 已关闭: {', '.join(f'#{f.id}' for f in closed) or 'none 无'}")
