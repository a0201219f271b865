"""The `govhub` command: ingest, status and the demo, with clear errors instead of tracebacks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.support import BEIJING_COLUMN, beijing, console, err, friendly
from schemas import load_all

app = typer.Typer(help="govhub — 政务数据共享交换平台 (city data exchange and sharing hub)", no_args_is_help=True)

__all__ = ["app"]


@app.callback()
def _main(
    home: Annotated[Path | None, typer.Option(help="Working folder (GOVHUB_HOME).")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    from govhub.settings import reset_settings, set_home

    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if home is not None:
        set_home(home)
    reset_settings()


def _resource_names() -> list[str]:
    return sorted(load_all())


def _check_resource(name: str) -> str:
    names = _resource_names()
    if name not in names:
        raise typer.BadParameter(f"unknown resource '{name}'; choose one of: {', '.join(names)}")
    return name


@app.command()
@friendly
def ingest(
    resources: Annotated[
        list[str] | None, typer.Argument(help="Resources to ingest (default: all, person first).")
    ] = None,
) -> None:
    """Run the ingest pipeline of one or more resources in this process (no scheduler needed)."""
    from cli.report import run_table
    from govhub.db import migrate
    from govhub.pipeline import ingest_order, run_ingest

    migrate()
    names = [_check_resource(r) for r in resources] if resources else ingest_order()
    summaries = []
    with console.status("ingesting…") as status:
        for name in names:
            status.update(f"ingesting {name}…")
            summaries.append(run_ingest(name))
    console.print(run_table(summaries))


@app.command()
@friendly
def status() -> None:
    """Last run per resource: outcome, counts, version, pending rows, and freshness with the reasons."""
    from govhub.db import migrate, session_scope
    from govhub.status import FRESHNESS_LABELS, OUTCOME_LABELS, resource_statuses

    migrate()
    with session_scope() as session:
        rows = resource_statuses(session)
    table = Table(title="govhub status — 资源状态")
    for column in (
        "resource",
        "名称",
        "last run" + BEIJING_COLUMN,
        "outcome 结果",
        "extracted",
        "accepted",
        "rejected",
        "pending",
        "version",
        "freshness 时效",
        "why 原因",
    ):
        table.add_column(column)
    for row in rows:
        colour = "green" if row.freshness == "fresh" else "yellow" if row.freshness == "never" else "red"
        freshness = FRESHNESS_LABELS[row.freshness]
        if row.overdue_by is not None:
            freshness += f" {row.overdue_by.days}d"
        outcome = OUTCOME_LABELS.get(row.last_status or "", "—")
        if row.last_status in ("failed", "succeeded_with_problems"):
            outcome = f"[red]{outcome}[/]"
        table.add_row(
            row.resource,
            row.title,
            beijing(row.last_finished),
            outcome,
            _n(row.extracted),
            _n(row.accepted),
            _n(row.rejected),
            _n(row.pending),
            _n(row.version),
            f"[{colour}]{freshness}[/]",
            "\n".join(row.reasons) or "—",
        )
    console.print(table)


def _n(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"


@app.command()
@friendly
def demo(
    size: Annotated[int, typer.Option(help="Persons in the simulated population registry.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Seed of the simulators.")] = 7,
    airflow: Annotated[bool, typer.Option(help="Run the ingest DAGs through Airflow (in-process).")] = True,
    fresh: Annotated[bool, typer.Option(help="Start from empty sources, lake and metadata.")] = True,
    serve: Annotated[bool, typer.Option(help="End by serving the monitor (--no-serve exits, for scripts).")] = True,
    port: Annotated[int, typer.Option(help="Port of the monitor.")] = 8700,
) -> None:
    """Build the sources, ingest all four through Airflow, share, tick a day, again; then serve the monitor."""
    from cli.demo import run_demo, serve_monitor

    run_demo(console, size=size, seed=seed, use_airflow=airflow, fresh=fresh, port=port)
    serve_monitor(console, port=port, serve=serve)


from cli.access import access_app  # noqa: E402
from cli.admin import admin_app  # noqa: E402
from cli.catalog import catalog_app, department_app, subscription_app  # noqa: E402  (sub-apps join at the end)
from cli.corrections import correction_app  # noqa: E402
from cli.disputes import dispute_app  # noqa: E402
from cli.targets import target_app  # noqa: E402

app.add_typer(catalog_app, name="catalog")
app.add_typer(subscription_app, name="subscription")
app.add_typer(department_app, name="department")
app.add_typer(target_app, name="target")
app.add_typer(dispute_app, name="dispute")
app.add_typer(admin_app, name="admin")
app.add_typer(access_app, name="access-record")
app.add_typer(correction_app, name="correction")


from cli.verify import seal_app, verify_app  # noqa: E402  (sub-apps join at the end)

app.add_typer(verify_app, name="verify")
app.add_typer(seal_app, name="seal")


from cli.delivery import delivery_app  # noqa: E402  (sub-apps join at the end)

app.add_typer(delivery_app, name="delivery")


from cli.quarantine import quarantine_app  # noqa: E402  (sub-apps join at the end)

app.add_typer(quarantine_app, name="quarantine")


@app.command()
@friendly
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8700,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve the web app: catalogue, subscriptions, deliveries and verification APIs (OpenAPI at /docs)."""
    import uvicorn

    from govhub.db import migrate

    migrate()
    console.print(f"govhub web app on http://{host}:{port} (API docs at /docs)")
    uvicorn.run("web.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="warning")


from web.monitor.cli import app as monitor_app  # noqa: E402  (sub-apps join at the end)

app.add_typer(monitor_app, name="monitor", help="监控 — administrators of the monitor web pages.")

log_app = typer.Typer(help="The exchange log (交换日志): every ingest, publish, delivery and query, hash-chained.")
app.add_typer(log_app, name="log")


@log_app.command("verify")
@friendly
def log_verify(
    live_only: Annotated[bool, typer.Option("--live-only", help="Skip re-reading the archive files.")] = False,
) -> None:
    """Walk the whole chain, archives and live events as one, and every signed checkpoint (a full walk).

    Names the first event changed, removed or reordered; reports the unsigned tail and the speed. The
    result is recorded: the monitor shows a failed full walk until a later one passes.
    """
    import time

    from exchange.log import check_full, format_report
    from govhub.db import migrate
    from govhub.delivery_runner import open_lake
    from govhub.exchange_log import hub_log

    migrate()
    started = time.perf_counter()
    report = check_full(hub_log(), archives=None if live_only else open_lake())
    seconds = time.perf_counter() - started
    (console if report.ok else err).print(format_report(report), highlight=False)
    rate = report.events_checked / seconds if seconds > 0 else 0
    console.print(f"{report.events_checked:,} events in {seconds:.1f} s ({rate:,.0f} events/s)", highlight=False)
    if not report.ok:
        raise typer.Exit(2)


@log_app.command("check")
@friendly
def log_check() -> None:
    """Verify only the events after the last verified signed checkpoint (what the monitor does)."""
    from exchange.log import check_incremental, format_report
    from govhub.db import migrate
    from govhub.exchange_log import hub_log

    migrate()
    report = check_incremental(hub_log())
    (console if report.ok else err).print(format_report(report), highlight=False)
    if not report.ok:
        raise typer.Exit(2)


@log_app.command("checkpoint")
@friendly
def log_checkpoint() -> None:
    """Sign every checkpoint boundary appended without the key (after checking the events up to it)."""
    from exchange.log import catch_up_checkpoints, format_report
    from govhub.db import migrate
    from govhub.exchange_log import hub_log

    migrate()
    report, signed = catch_up_checkpoints(hub_log())
    if not report.ok:
        err.print(format_report(report), highlight=False)
        raise typer.Exit(2)
    console.print(f"{signed} checkpoint(s) signed; unsigned tail now {report.unsigned_tail} event(s).")


@log_app.command("archive")
@friendly
def log_archive(
    before: Annotated[
        str, typer.Option(help="Archive the events recorded before this day (YYYY-MM-DD, Beijing time).")
    ],
    vacuum: Annotated[
        bool,
        typer.Option(
            "--vacuum",
            help="完整 VACUUM — on a SQLite database made before incremental mode, rewrite the file to shrink it "
            "(needs ~2x its used size free; refused when the disk is short). Later archives then shrink it in steps.",
        ),
    ] = False,
) -> None:
    """Move old events to Parquet in the lake, one file per month, and give the space back.

    SQLite databases in incremental mode shrink in small steps; older ones keep their free pages (new events
    reuse them) unless --vacuum is given.
    """
    from datetime import datetime

    from core.time import BEIJING
    from govhub.db import migrate
    from govhub.delivery_runner import open_lake
    from govhub.exchange_log import hub_log

    try:
        cutoff = datetime.strptime(before, "%Y-%m-%d").replace(tzinfo=BEIJING)
    except ValueError as e:
        raise typer.BadParameter(f"--before must be a day as YYYY-MM-DD, got {before!r}") from e
    migrate()
    info = hub_log().archive(open_lake(), before=cutoff, vacuum=vacuum)
    if not info.events:
        console.print("该日期之前的事件已全部归档 — nothing recorded before that day is still in the database.")
    else:
        console.print(
            f"已归档 {info.events:,} 个事件 — {info.events:,} events (seq {info.from_seq}–{info.to_seq}) archived to "
            f"{len(info.files)} monthly file(s), each pinned by a signed checkpoint:",
            highlight=False,
        )
        for path in info.files:
            console.print(f"  {path}", highlight=False)
    if info.reclaim is not None:
        for line in info.reclaim.describe():
            console.print(line, highlight=False)


@log_app.command("rotate-subject-key")
@friendly
def log_rotate_subject_key() -> None:
    """Retire the subject-hash key and make a new one (old events stay searchable under the retired key)."""
    from exchange.subjects import SubjectKeys
    from govhub.settings import get_settings

    settings = get_settings()
    if settings.subject_hash_key:
        raise typer.BadParameter("GOVHUB_SUBJECT_HASH_KEY is set: rotate it in your secret store instead")
    console.print(f"new subject-hash key id: {SubjectKeys.rotate(settings.keys_dir)}")


@log_app.command("tail")
@friendly
def log_tail(
    limit: Annotated[int, typer.Option(help="How many of the newest events.")] = 20,
    type_: Annotated[str | None, typer.Option("--type", help="ingest, quarantine, publish, delivery, …")] = None,
) -> None:
    """The newest exchange events, newest first."""
    from govhub.db import migrate
    from govhub.exchange_log import hub_log

    migrate()
    table = Table(title="exchange log — 交换日志")
    for column in (
        "seq",
        "time" + BEIJING_COLUMN,
        "type",
        "source",
        "target",
        "resource",
        "version",
        "rows",
        "outcome",
    ):
        table.add_column(column)
    for e in hub_log().query(type=type_, limit=limit):
        table.add_row(
            str(e.seq),
            beijing(e.recorded_at, seconds=True),
            str(e.type),
            e.source or "",
            e.target or "",
            e.resource or "",
            _n(e.version),
            _n(e.rows),
            e.outcome,
        )
    console.print(table)


lake_app = typer.Typer(help="The lake (数据湖): curated Delta tables and the files each published version wrote.")
app.add_typer(lake_app, name="lake")


@lake_app.command("verify")
@friendly
def lake_verify(
    resources: Annotated[list[str] | None, typer.Argument(help="Resources to check (default: all).")] = None,
) -> None:
    """Check every file each published version wrote (size, SHA-256); name files changed, missing or unexpected."""
    from govhub.integrity import verify_lake
    from lake import format_integrity

    reports = verify_lake([_check_resource(r) for r in resources] if resources else None)
    if not reports:
        console.print("No published dataset versions yet: nothing to verify.")
    for report in reports:
        (console if report.ok else err).print(format_integrity(report), highlight=False)
    if not all(r.ok for r in reports):
        raise typer.Exit(2)


@lake_app.command("compact")
@friendly
def lake_compact(
    resources: Annotated[list[str] | None, typer.Argument(help="Resources to compact (default: all).")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Compact any pending change, not only past the threshold.")
    ] = False,
) -> None:
    """Merge pending changes into each curated table's base (合并变更): when past the threshold, or now with --force."""
    from govhub.compaction import compact_lake

    outcomes = compact_lake([_check_resource(r) for r in resources] if resources else None, force=force)
    for outcome in outcomes:
        resource, info = outcome.resource, outcome.info
        if outcome.busy is not None:
            err.print(f"{resource}: 正被占用，未合并 busy, not compacted: {outcome.busy}")
        elif info is None:
            console.print(f"{resource}: 无需合并 nothing to compact (pending changes within the threshold).")
        else:
            console.print(
                f"{resource}: 已合并 compacted {info.rows} key(s) through dataset version {info.dataset_version} "
                f"into base version {info.base_version}."
            )
    if any(o.busy is not None for o in outcomes):
        raise typer.Exit(1)


@lake_app.command("view")
@friendly
def lake_view(
    resource: Annotated[str, typer.Argument(help="The resource whose current state the view shows.")],
    dialect: Annotated[str, typer.Option(help="duckdb, spark or trino.")] = "duckdb",
) -> None:
    """Print the SQL view of a curated table's current state for outside readers (外部读取视图)."""
    from govhub.delivery_runner import open_lake
    from lake import view_sql
    from schemas import load_contract

    if dialect not in ("duckdb", "spark", "trino"):
        raise typer.BadParameter(f"dialect '{dialect}' is not one of duckdb, spark, trino")
    table = open_lake().curated(load_contract(_check_resource(resource)))
    print(view_sql(table, dialect))  # type: ignore[arg-type]


if __name__ == "__main__":
    app()
