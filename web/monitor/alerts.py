"""What needs a data administrator now: failed runs, stale resources, quality drops, failed expectation suites,
denial spikes, chain breaks, overdue sharing disputes. Callers' own mistakes (outcome `invalid`: malformed
requests, conflicts) are no denials: they never feed the denial spike and are counted apart (`client_errors`).

The chain's state is shown on every page header and on the alerts: each view verifies only the events
after the last verified signed checkpoint (`exchange.log.check_incremental`, one check at a time per
database, others wait for its result), and shows the newest full walk's result (`govhub log verify`,
the scheduled `exchange_log_check` DAG) while it is failed, so an edit before the checkpoint stays on
screen until a later full walk passes.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog import DatasetVersion, utcnow
from exchange.log import ChainReport, ExchangeEvent, ExchangeLog, check_incremental, last_full_check
from govhub.models import IngestRun
from web.clock import beijing_text
from web.monitor.corrections import overdue_by_provider
from web.monitor.i18n import coded, label, one_language, party_label, run_error_label
from web.monitor.queries import DIMENSIONS, as_aware, department_names, overview_rows

__all__ = [
    "CHAIN_MAX_AGE",
    "CLIENT_ERROR_THRESHOLD",
    "DENIAL_THRESHOLD",
    "QUALITY_DROP",
    "Alert",
    "chain_state",
    "clear_chain_cache",
    "collect_alerts",
]

CHAIN_MAX_AGE = 0.0  # seconds a header may reuse a check; 0: every view checks what is new (single flight)
FULL_WALK_MAX_AGE = timedelta(days=2)  # a scheduled full walk older than this is itself an alert
DENIAL_THRESHOLD = 20  # denied requests within the last hour before it is a spike
CLIENT_ERROR_THRESHOLD = 100  # callers' own mistakes within the last hour before they are worth a look
QUALITY_DROP = 0.05  # a dimension score this much below the previous version's
_cache: dict[str, tuple[float, ChainReport]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Alert:
    """One alert row: what kind, how severe, about which resource, and the details to act on."""

    kind: Literal[
        "failed_run",
        "stale",
        "not_fresh",
        "source_problems",
        "quality_drop",
        "suite_failed",
        "denials",
        "client_errors",
        "chain",
        "full_walk",
        "unsigned_tail",
        "dispute_overdue",
        "correction_overdue",
    ]
    severity: Literal["critical", "warning"]
    resource: str | None
    detail: str
    at: datetime | None = None
    detail_zh: str = ""  # the same detail in Chinese, from the message catalogue


def _trusted_keys(keys_dir: Path) -> dict[str, str]:
    """The hub's own public keys, so checkpoints signed with a foreign key count as bad."""
    from exchange.crypto import inspect_public_key

    keys = {}
    for path in sorted(Path(keys_dir).glob("hub-*.pub")):
        pem = path.read_text()
        keys[inspect_public_key(pem).key_id] = pem
    return keys


def chain_state(session: Session, *, keys_dir: Path, max_age: float = CHAIN_MAX_AGE) -> ChainReport:
    """The chain's state: an incremental check of what is new, failed if the newest full walk failed.

    `max_age` > 0 reuses a result that young (per metadata URL and process).
    """
    key = str(session.get_bind().url)
    with _lock:
        cached = _cache.get(key)
        if cached and max_age > 0 and time.monotonic() - cached[0] < max_age:
            return cached[1]
    report = check_incremental(ExchangeLog(session.get_bind(), trusted_keys=_trusted_keys(keys_dir)))
    full = last_full_check(session)
    if report.ok and full is not None and not full.ok:
        report = replace(
            report,
            ok=False,
            problem=full.problem,
            first_bad_seq=full.first_bad_seq,  # type: ignore[arg-type]
            detail=f"the full walk of {as_aware(full.started_at):%Y-%m-%d %H:%M} UTC found: {full.detail}",
        )
    with _lock:
        _cache[key] = (time.monotonic(), report)
    return report


def clear_chain_cache() -> None:
    """Forget cached chain verifications (tests; after a repair)."""
    with _lock:
        _cache.clear()


def _quality_drops(session: Session, resource: str) -> list[Alert]:
    last_two = list(
        session.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.resource == resource)
            .order_by(DatasetVersion.version.desc())
            .limit(2)
        )
    )
    if len(last_two) < 2:
        return []
    new, old = ({d["dimension"]: d.get("score") for d in (v.scorecard or {}).get("dimensions", [])} for v in last_two)
    alerts = []
    for name in DIMENSIONS:
        if new.get(name) is not None and old.get(name) is not None and old[name] - new[name] > QUALITY_DROP:
            alerts.append(
                Alert(
                    "quality_drop",
                    "warning",
                    resource,
                    f"{name}: v{last_two[1].version} {old[name]:.3f} → v{last_two[0].version} {new[name]:.3f}",
                    as_aware(last_two[0].committed_at),
                    label(
                        "alert_text_quality_drop",
                        "zh",
                        dimension=label(f"dim_{name}"),
                        old_version=last_two[1].version,
                        old=f"{old[name]:.3f}",
                        new_version=last_two[0].version,
                        new=f"{new[name]:.3f}",
                    ),
                )
            )
    return alerts


def _health_alerts(row: dict[str, Any]) -> list[Alert]:
    """A resource with nothing published, and a run whose source refused files, are alerts too."""
    alerts = []
    if row["freshness"] in ("unpublished", "nothing_accepted"):
        zh = "；".join(one_language(why) for why in row["reasons"])
        alerts.append(
            Alert("not_fresh", "warning", row["resource"], "; ".join(row["reasons"]), row["last_finished"], zh)
        )
    if row["last_status"] == "succeeded_with_problems":
        why = "; ".join(f"{p.get('name')}: {p.get('reason')}" for p in row["problems"][:5])
        zh = label("alert_text_source_problems", "zh", run=row["last_run_id"], n=len(row["problems"]))
        alerts.append(
            Alert(
                "source_problems", "warning", row["resource"], f"{row['last_run_id']}: {why}", row["last_finished"], zh
            )
        )
    return alerts


def collect_alerts(
    session: Session,
    *,
    keys_dir: Path,
    now: datetime | None = None,
    denial_threshold: int = DENIAL_THRESHOLD,
    client_error_threshold: int = CLIENT_ERROR_THRESHOLD,
    failed_window: timedelta = timedelta(days=7),
) -> tuple[list[Alert], ChainReport]:
    """Every current alert, most severe first, and the freshly walked chain report."""
    now = now or utcnow()
    alerts: list[Alert] = []
    report = chain_state(session, keys_dir=keys_dir, max_age=0)
    if not report.ok:
        alerts.append(
            Alert(
                "chain",
                "critical",
                None,
                f"{report.problem}: seq {report.first_bad_seq}, event {report.first_bad_event_id}. {report.detail}",
                detail_zh=label(
                    "alert_text_chain",
                    "zh",
                    problem=label("chain_broken"),
                    seq=report.first_bad_seq,
                    event=report.first_bad_event_id,
                ),
            )
        )
    failed = session.scalars(
        select(IngestRun)
        .where(IngestRun.status == "failed", IngestRun.started_at >= now - failed_window)
        .order_by(IngestRun.started_at.desc())
    )
    for run in failed:
        alerts.append(
            Alert(
                "failed_run",
                "critical",
                run.resource,
                f"{run.run_id} ({run.stage}): {(run.error or '')[:300]}",
                as_aware(run.finished_at),
                label(
                    "alert_text_failed_run",
                    "zh",
                    run=run.run_id,
                    stage=coded("stage", run.stage),
                    reason=run_error_label(run.error),
                ),
            )
        )
    for row in overview_rows(session, now=now):
        if row["freshness"] == "overdue":
            alerts.append(
                Alert(
                    "stale",
                    "warning",
                    row["resource"],
                    f"overdue by {row['overdue_hours']} h (last success before {row['last_finished']})",
                    detail_zh=label(
                        "alert_text_stale", "zh", hours=row["overdue_hours"], last=beijing_text(row["last_finished"])
                    ),
                )
            )
        alerts.extend(_health_alerts(row))
        alerts.extend(_quality_drops(session, row["resource"]))
    alerts.extend(_suite_alerts(session))
    alerts.extend(_walk_alerts(session, report, now))
    alerts.extend(_refusal_alerts(session, now, denial_threshold, client_error_threshold))
    alerts.extend(_dispute_alerts(session, now))
    alerts.extend(_correction_alerts(session, now))
    alerts.sort(key=lambda a: (a.severity != "critical", a.kind))
    return alerts, report


def _walk_alerts(session: Session, report: ChainReport, now: datetime) -> list[Alert]:
    """The scheduled full walk: missing, too old, or (shown by the chain alert) failed; a long unsigned tail."""
    from govhub.settings import get_settings

    alerts = []
    full = last_full_check(session)
    empty = session.scalar(select(ExchangeEvent.seq).limit(1)) is None
    if not empty and (full is None or as_aware(full.started_at) < now - FULL_WALK_MAX_AGE):  # type: ignore[operator]
        when = "never" if full is None else f"last on {as_aware(full.started_at):%Y-%m-%d %H:%M} UTC"
        when_zh = "从未" if full is None else f"最近一次 {beijing_text(full.started_at)}（北京时间）"
        alerts.append(
            Alert(
                "full_walk",
                "warning",
                None,
                f"no full walk of the exchange log for two days ({when}): "
                "run `govhub log verify` or unpause the exchange_log_check DAG",
                detail_zh=label("alert_text_full_walk", "zh", when=when_zh),
            )
        )
    every = get_settings().log_checkpoint_every
    if report.unsigned_tail > 2 * every:
        alerts.append(
            Alert(
                "unsigned_tail",
                "warning",
                None,
                f"{report.unsigned_tail} events after the newest signed "
                "checkpoint: run `govhub log checkpoint` (the web app signs them)",
                detail_zh=label("alert_text_unsigned_tail", "zh", n=report.unsigned_tail),
            )
        )
    return alerts


def _suite_alerts(session: Session) -> list[Alert]:
    """A resource whose newest version failed its GX expectation suite (`web.monitor.expectations`)."""
    from web.monitor.expectations import expectation_rows, failed_suites

    alerts = []
    for suite in failed_suites(session):
        failed = [row for row in expectation_rows(suite, "en") if not row["success"]]
        failed_zh = [row for row in expectation_rows(suite, "zh") if not row["success"]]
        which = ", ".join(f"{row['expectation']}({row['fields']})" for row in failed[:5])
        which_zh = "；".join(f"{row['name']}（{row['fields']}）" for row in failed_zh[:5])
        alerts.append(
            Alert(
                "suite_failed",
                "warning",
                suite.resource,
                f"v{suite.version}: {len(failed)} expectation(s) failed: {which}",
                suite.validated_at,
                label("alert_text_suite_failed", "zh", version=suite.version, n=len(failed), which=which_zh),
            )
        )
    return alerts


def _refusal_alerts(session: Session, now: datetime, threshold: int, client_error_threshold: int) -> list[Alert]:
    """Refused requests in the last hour (an aggregated refusal counts its `rows`), by client; the callers'
    own mistakes (`invalid`) counted apart, never as denials."""
    since = now - timedelta(hours=1)
    first = session.scalar(  # on the recorded_at index: min(seq) would scan the log from its start
        select(ExchangeEvent.seq)
        .where(ExchangeEvent.recorded_at >= since)
        .order_by(ExchangeEvent.recorded_at, ExchangeEvent.seq)
        .limit(1)
    )
    if first is None:
        return []
    counted = session.execute(
        select(ExchangeEvent.outcome, ExchangeEvent.client, func.sum(func.coalesce(ExchangeEvent.rows, 1)))
        .where(
            ExchangeEvent.seq >= first,
            ExchangeEvent.outcome.in_(("denied", "invalid")),
            ExchangeEvent.recorded_at >= since,
        )
        .group_by(ExchangeEvent.outcome, ExchangeEvent.client)
    ).all()
    alerts = []
    for outcome, kind, limit, severity in (
        ("denied", "denials", threshold, "critical"),
        ("invalid", "client_errors", client_error_threshold, "warning"),
    ):
        rows = [(client, int(n)) for o, client, n in counted if o == outcome]
        total = sum(n for _, n in rows)
        if total <= limit:
            continue
        ranked = sorted(rows, key=lambda d: -d[1])
        by = ", ".join(f"{client or '-'} ×{n}" for client, n in ranked)
        by_zh = "，".join(f"{party_label('client:' + client) if client else '—'} {n} 次" for client, n in ranked)
        zh = label(f"alert_text_{kind}", "zh", total=total, threshold=limit, by=by_zh)
        what = "denied" if outcome == "denied" else "client errors (not denials)"
        alerts.append(Alert(kind, severity, None, f"{total} {what} in the last hour (> {limit}): {by}", detail_zh=zh))  # type: ignore[arg-type]
    return alerts


def _dispute_alerts(session: Session, now: datetime) -> list[Alert]:
    """Open sharing disputes past their due date: the authority's own time limit (政务数据共享条例)."""
    from web.monitor.disputes import overdue_dispute_rows

    alerts = []
    for d in overdue_dispute_rows(session, now=now):
        words = {"id": d["id"], "department": d["raised_by"], "application": d["subscription_id"]}
        alerts.append(
            Alert(
                "dispute_overdue",
                "warning",
                d["resource"],
                label("alert_text_dispute_overdue", "en", due=f"{beijing_text(d['due_at'])} Beijing time", **words),
                d["due_at"],
                label("alert_text_dispute_overdue", "zh", due=beijing_text(d["due_at"]), **words),
            )
        )
    return alerts


def _correction_alerts(session: Session, now: datetime) -> list[Alert]:
    """Correction flags (校核纠错) the provider left unanswered past their due date, one alert per provider."""
    names = department_names(session)
    alerts = []
    for provider, flags in sorted(overdue_by_provider(session, now=now).items()):
        ids = ", ".join(f"#{f.id}" for f in flags)
        name = names.get(provider, provider)
        alerts.append(
            Alert(
                "correction_overdue",
                "warning",
                flags[0].resource if len({f.resource for f in flags}) == 1 else None,
                f"{name}: {len(flags)} correction flag(s) unanswered past the due date ({ids})",
                min(as_aware(f.due_at) for f in flags),  # type: ignore[type-var]
                label("alert_text_correction_overdue", "zh", provider=name, n=len(flags), ids=ids),
            )
        )
    return alerts


def chain_summary(report: ChainReport) -> dict[str, Any]:
    """The chain report as JSON for the API."""
    return {
        "ok": report.ok,
        "events_checked": report.events_checked,
        "checkpoints_checked": report.checkpoints_checked,
        "problem": report.problem,
        "first_bad_seq": report.first_bad_seq,
        "first_bad_event_id": report.first_bad_event_id,
        "detail": report.detail,
        "verified_to_seq": report.newest_checkpoint_seq,
        "unsigned_tail": report.unsigned_tail,
    }
