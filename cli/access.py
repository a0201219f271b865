"""`govhub access-record ...`: the index behind a person's access record (谁查了我的数据)."""

from __future__ import annotations

import typer

from cli.support import bilingual, console

__all__ = ["access_app"]

access_app = typer.Typer(
    help="数据使用记录 — the index behind GET /api/access-record (who asked about a person, who received them).",
    no_args_is_help=True,
)


@access_app.command("backfill")
@bilingual
def backfill() -> None:
    """Index what happened before the index existed: verification answers in the exchange log (its archive
    files in the lake included), and the versions of every resource up to its newest delivery. Safe to
    re-run: only what is missing is added."""
    from exchange.access import backfill_changes, backfill_queries
    from govhub.db import migrate, session_scope
    from govhub.delivery_runner import open_lake
    from govhub.exchange_log import hub_subject_keys
    from schemas import load_all

    migrate()
    with session_scope() as session:
        lake = open_lake()
        queries = backfill_queries(session, archives=lake)
        changes = backfill_changes(session, lake, load_all().values(), keys=hub_subject_keys())
    console.print(f"核验查询 verification answers indexed: {queries:,}")
    for resource, rows in changes.items():
        console.print(f"{resource}: 数据版本涉及的主体 subjects of delivered versions indexed: {rows:,}")
    console.print("完成 done — archived exchange-log events included")
