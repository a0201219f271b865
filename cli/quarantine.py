"""`govhub quarantine ...`: what waits (pending), what was rejected and why; re-validate chosen rows."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer
from rich.table import Table

from cli.support import console, friendly
from schemas import load_all

__all__ = ["quarantine_app"]

quarantine_app = typer.Typer(
    help="隔离区 — quarantined rows: pending (待关联) and rejected (已拒收), with their reasons.",
    no_args_is_help=True,
)
VERDICT_LABELS = {"pending": "待关联 pending", "rejected": "已拒收 rejected"}


def _resource(name: str) -> str:
    names = sorted(load_all())
    if name not in names:
        raise typer.BadParameter(f"unknown resource '{name}'; choose one of: {', '.join(names)}")
    return name


@quarantine_app.command("list")
@friendly
def list_rows(
    resource: Annotated[str | None, typer.Argument(help="Resource (default: all).")] = None,
    verdict: Annotated[str | None, typer.Option(help="pending or rejected (default: both).")] = None,
    rule: Annotated[str | None, typer.Option(help="Only rows with a reason of this rule (references…).")] = None,
    limit: Annotated[int, typer.Option(help="Rows shown per resource (the counts cover all).")] = 20,
) -> None:
    """Open quarantined rows: pending ones wait for a referenced resource, rejected ones need a fix."""
    from govhub.db import migrate, session_scope
    from govhub.pipeline.pending import open_rows
    from govhub.pipeline.resources import open_resource

    if verdict not in (None, "pending", "rejected"):
        raise typer.BadParameter(f"--verdict must be pending or rejected, got '{verdict}'")
    migrate()
    verdicts = (verdict,) if verdict else ("pending", "rejected")
    summary = Table(title="quarantine — 隔离区")
    for column in ("resource 资源", "状态 verdict", "rows 行数", "top reasons 主要原因"):
        summary.add_column(column)
    detail = Table(title="rows — 隔离记录")
    for column in ("resource 资源", "状态 verdict", "记录键 key", "批次 run", "原因 reasons"):
        detail.add_column(column)
    for name in [_resource(resource)] if resource else sorted(load_all()):
        with session_scope() as session:
            rows = open_rows(open_resource(name), session, verdicts=verdicts, rule=rule)
        if not rows.num_rows:
            continue
        records = rows.to_pylist()
        for v in verdicts:
            mine = [r for r in records if r["verdict"] == v]
            if not mine:
                continue
            reasons = Counter(
                f"{x['rule']} {x['field']}" for r in mine for x in r["reasons"] if x["severity"] == "error"
            )
            top = "; ".join(f"{reason} ×{n}" for reason, n in reasons.most_common(3))
            summary.add_row(name, VERDICT_LABELS[v], f"{len(mine):,}", top)
        for r in records[:limit]:
            messages = "；".join(x["message"] for x in r["reasons"] if x["severity"] == "error")
            detail.add_row(name, VERDICT_LABELS[r["verdict"]], r["row_key"], r["run_id"], messages)
    if not summary.row_count:
        console.print("隔离区为空 — nothing is pending or rejected.")
        return
    console.print(summary)
    console.print(detail)


@quarantine_app.command("reprocess")
@friendly
def reprocess(
    resource: Annotated[str, typer.Argument(help="Resource whose quarantined rows to re-validate.")],
    rule: Annotated[str | None, typer.Option(help="Only rows with a reason of this rule.")] = None,
    run: Annotated[str | None, typer.Option(help="Only rows quarantined by this run id.")] = None,
) -> None:
    """Re-validate open quarantined rows against today's contract and curated tables; publish those that pass."""
    from cli.report import run_table
    from govhub.db import migrate
    from govhub.pipeline.recheck import recheck_dependents
    from govhub.pipeline.recheck import reprocess as reprocess_rows

    migrate()
    result = reprocess_rows(_resource(resource), rule=rule, run=run)
    if result is None:
        console.print(f"没有符合条件的隔离记录 — no open quarantined row of {resource} matches.")
        return
    summaries = [result]
    if result.get("version") is not None:
        summaries += recheck_dependents(resource)
    console.print(run_table(summaries, title="reprocess — 隔离记录重新校验"))
    outcomes = result.get("outcomes") or {}
    console.print(
        "promoted 已发布 {promoted}, still pending 仍待关联 {still_pending}, rejected 仍拒收 {rejected}, "
        "expired 超期 {expired}, superseded 已被新记录取代 {superseded}".format(
            **{k: outcomes.get(k, 0) for k in ("promoted", "still_pending", "rejected", "expired", "superseded")}
        )
    )
