"""What a hub looks like after a run, and how a re-run after a kill differs from a clean run.

`ingest_snapshot` and `delivery_snapshot` run inside a child (they open the lake and the metadata
store); `compare_ingest` and `compare_delivery` run in the parent on the pickled snapshots and
return the problems found plus the rows (ingest) or versions (delivery) lost.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote

__all__ = ["compare_delivery", "compare_ingest", "delivery_snapshot", "delta_health", "ingest_snapshot"]


def _canonical(rows: list[dict[str, Any]]) -> list[str]:
    """Rows as sorted JSON strings: comparable as multisets, whatever their types."""
    return sorted(json.dumps(r, ensure_ascii=False, sort_keys=True, default=str) for r in rows)


def _log_paths(uri: str) -> set[str]:
    """Every data file any commit in the table's log ever added (add and cdc actions)."""
    paths: set[str] = set()
    log = Path(uri, "_delta_log")
    for entry in sorted(log.glob("*.json")):
        for line in entry.read_text(encoding="utf-8").splitlines():
            action = json.loads(line) if line.strip() else {}
            for kind in ("add", "cdc"):
                if kind in action:
                    paths.add(unquote(action[kind]["path"]))
    return paths


def delta_health(uri: str, read_rows: int | None = None) -> dict[str, Any]:
    """Open a Delta table, replay every version of its log, check its files and counts.

    `read_rows`: the row count the product's own `read()` returned, compared with the log's.
    Returns {"exists", "version", "problems", "orphans"}; orphans are data files no commit
    references (left by a write killed before its commit: harmless, counted, not a problem).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    if not Path(uri, "_delta_log").is_dir():
        return {"exists": False, "version": None, "problems": [], "orphans": 0}
    problems: list[str] = []
    try:
        dt = DeltaTable(uri)
        version = dt.version()
        for v in range(version + 1):  # every version replays (none was checkpointed away here)
            DeltaTable(uri, version=v).get_add_actions()
        history = dt.history()
        if len(history) != version + 1:
            problems.append(f"{uri}: history has {len(history)} commits for version {version}")
        actions = pa.table(dt.get_add_actions(flatten=True))
        live = [unquote(p) for p in actions.column("path").to_pylist()] if actions.num_rows else []
        missing = [p for p in live if not Path(uri, p).is_file()]
        if missing:
            problems.append(f"{uri}: {len(missing)} data files of version {version} are missing, e.g. {missing[0]}")
        log_rows = int(pc.sum(actions.column("num_records")).as_py() or 0) if actions.num_rows else 0
        rows = dt.to_pyarrow_table().num_rows
        if rows != log_rows:
            problems.append(f"{uri}: the log counts {log_rows} rows, reading gives {rows}")
        if read_rows is not None and read_rows != log_rows:
            problems.append(f"{uri}: read() gave {read_rows} rows, the log counts {log_rows}")
    except Exception as e:  # an unreadable table is exactly what this check reports
        problems.append(f"{uri}: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}")
        return {"exists": True, "version": None, "problems": problems, "orphans": 0}
    on_disk = {
        os.path.relpath(os.path.join(d, f), uri)
        for d, _, files in os.walk(uri)
        if not {"_delta_log", "_changes"} & set(Path(d).relative_to(uri).parts)  # _changes: a table of its own
        for f in files
        if f.endswith(".parquet")
    }
    return {"exists": True, "version": version, "problems": problems, "orphans": len(on_disk - _log_paths(uri))}


def ingest_snapshot(resource: str) -> dict[str, Any]:
    """The facts a re-run must share with a clean run: rows, watermark, versions, log, table health."""
    from sqlalchemy import select

    from catalog.versions import DatasetVersion
    from exchange.log.models import ExchangeEvent
    from govhub.db import session_scope
    from govhub.exchange_log import hub_log
    from govhub.models import IngestRun, ResourceState
    from govhub.pipeline.resources import open_resource

    ctx = open_resource(resource)
    curated = ctx.curated.read()
    quarantine = ctx.quarantine.read()
    volatile = ("run_id", "pending_since")  # which attempt wrote a row, and when it first waited
    quarantine = quarantine.drop_columns([c for c in volatile if c in quarantine.column_names])
    with session_scope() as session:
        state = session.get(ResourceState, resource)
        versions = session.scalars(select(DatasetVersion).where(DatasetVersion.resource == resource)).all()
        runs = session.scalars(select(IngestRun).where(IngestRun.resource == resource)).all()
        published = Counter(
            session.scalars(
                select(ExchangeEvent.version).where(ExchangeEvent.type == "publish", ExchangeEvent.resource == resource)
            ).all()
        )
        snapshot = {
            "curated": _canonical(curated.to_pylist()),
            "quarantine": _canonical(quarantine.to_pylist()),
            "watermark": state.watermark if state else None,
            "last_version": state.last_version if state else None,
            "lock": state.lock_run_id if state else None,
            "versions": sorted((v.version, v.rows_inserted, v.rows_updated, v.rows_deleted) for v in versions),
            "versions_registered": sorted((v.version, v.rows_total, bool(v.scorecard)) for v in versions),
            "runs": Counter(r.status for r in runs),
            "published": dict(published),
        }
    snapshot["chain_ok"] = hub_log().verify().ok
    snapshot["health"] = {
        # the state is base + change table (merge-on-read): read() is checked against row_count() below
        "curated": delta_health(
            ctx.curated.uri, None if Path(ctx.curated.uri, "_changes").is_dir() else curated.num_rows
        ),
        "curated changes": delta_health(str(Path(ctx.curated.uri, "_changes")), None),
        "quarantine": delta_health(ctx.quarantine.uri, None),
    }
    snapshot["curated_row_count"] = ctx.curated.row_count()
    staging = Path(ctx.lake.uri("staging", resource))
    snapshot["staging_left"] = sorted(p.name for p in staging.iterdir()) if staging.is_dir() else []
    return snapshot


def _multiset_diff(clean: list[str], got: list[str]) -> tuple[int, int]:
    a, b = Counter(clean), Counter(got)
    return sum((a - b).values()), sum((b - a).values())


def compare_ingest(clean: dict[str, Any], got: dict[str, Any]) -> tuple[list[str], int]:
    """Problems of a re-run against the clean run, and the source rows lost (in neither table)."""
    problems: list[str] = []
    lost_c, extra_c = _multiset_diff(clean["curated"], got["curated"])
    lost_q, extra_q = _multiset_diff(clean["quarantine"], got["quarantine"])
    if lost_c or extra_c:
        problems.append(f"curated rows differ: {lost_c} missing, {extra_c} unexpected")
    if lost_q or extra_q:
        problems.append(f"quarantine rows differ: {lost_q} missing, {extra_q} unexpected")
    for key in ("watermark", "last_version", "versions", "versions_registered"):
        if got[key] != clean[key]:
            problems.append(f"{key}: clean {clean[key]!r}, re-run {got[key]!r}")
    if got["lock"] is not None:
        problems.append(f"the lock is still held by {got['lock']}")
    if got["runs"].get("running"):
        problems.append(f"{got['runs']['running']} run(s) left 'running'")
    doubled = {v: n for v, n in got["published"].items() if n != 1}
    if doubled or set(got["published"]) != set(clean["published"]):
        problems.append(f"publish events per version: clean {clean['published']}, re-run {got['published']}")
    if not got["chain_ok"]:
        problems.append("the exchange log's chain does not verify")
    if got["staging_left"] != clean["staging_left"]:
        problems.append(f"staging folders left: {got['staging_left']} (a clean run leaves {clean['staging_left']})")
    if got["curated_row_count"] != len(got["curated"]):
        problems.append(f"row_count() {got['curated_row_count']} != rows read {len(got['curated'])}")
    for name, health in got["health"].items():
        problems.extend(f"{name} table: {p}" for p in health["problems"])
    return problems, lost_c + lost_q


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def delivery_snapshot() -> dict[str, Any]:
    """Every subscription's delivery records, what its target holds, and the delivery events logged."""
    import sqlalchemy as sa
    from sqlalchemy import select

    from catalog import resolve_target_url
    from catalog.subscriptions import Subscription
    from exchange.delivery import BOOKKEEPING_TABLE, Delivery
    from exchange.log.models import ExchangeEvent
    from govhub.db import session_scope
    from govhub.exchange_log import hub_log
    from govhub.settings import get_settings

    lake_root = Path(get_settings().lake_root)
    with session_scope() as session:
        subs = session.scalars(select(Subscription).where(Subscription.status == "granted")).all()
        records = {
            (d.subscription_id, d.to_version): {
                "from": d.from_version,
                "status": d.status,
                "mode": d.mode,
                "rows": (d.rows_inserted, d.rows_updated, d.rows_deleted),
                "checksum": d.checksum,
                "bytes": d.bytes,
                "location": d.location,
            }
            for d in session.scalars(select(Delivery)).all()
        }
        events = Counter(
            (e.details.get("subscription_id"), e.version)
            for e in session.scalars(
                select(ExchangeEvent).where(ExchangeEvent.type == "delivery", ExchangeEvent.outcome == "ok")
            ).all()
        )
        targets = {
            s.id: (s.delivery_mode, resolve_target_url(session, s.department_code, s.target_name), s.resource)
            for s in subs
            if s.delivery_mode == "database"
        }
    files = {}
    for (_, _), rec in records.items():
        if rec["mode"] == "file" and rec["location"]:
            files[rec["location"]] = _sha256(lake_root / rec["location"])
    folder = lake_root / "deliveries"
    on_disk = sorted(str(p.relative_to(lake_root)) for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    databases = {}
    for sub_id, (mode, url, resource) in targets.items():
        if mode != "database" or not url:
            continue
        engine = sa.create_engine(url)
        try:
            with engine.connect() as conn:
                names = sa.inspect(conn).get_table_names()
                rows = (
                    [dict(r._mapping) for r in conn.execute(sa.text(f"SELECT * FROM {resource}"))]
                    if (resource in names)
                    else []
                )
                book = (
                    [
                        tuple(r)
                        for r in conn.execute(sa.text(f"SELECT subscription_id, to_version FROM {BOOKKEEPING_TABLE}"))
                    ]
                    if (BOOKKEEPING_TABLE in names)
                    else []
                )
        finally:
            engine.dispose()
        databases[sub_id] = {"rows": _canonical(rows), "book": Counter(book)}
    return {
        "records": records,
        "events": dict(events),
        "files": files,
        "on_disk": on_disk,
        "databases": databases,
        "chain_ok": hub_log().verify().ok,
    }


def compare_delivery(clean: dict[str, Any], got: dict[str, Any]) -> tuple[list[str], int]:
    """Problems of a re-run delivery against the clean one, and the versions missing or doubled at subscribers."""
    problems: list[str] = []
    lost = 0
    for key, want in clean["records"].items():
        have = got["records"].get(key)
        if have is None or have["status"] != "done":
            problems.append(f"subscription {key[0]} v{key[1]}: {'no record' if have is None else have['status']}")
            lost += 1
        elif have != want:
            problems.append(f"subscription {key[0]} v{key[1]}: clean {want}, re-run {have}")
    for key in set(got["records"]) - set(clean["records"]):
        problems.append(f"subscription {key[0]} v{key[1]}: recorded, but a clean run delivers no such version")
    for key, n in got["events"].items():
        if n != 1:
            problems.append(f"subscription {key[0]} v{key[1]}: {n} delivery events logged")
    if set(got["events"]) != set(clean["events"]):
        problems.append(f"delivery events for {sorted(got['events'])}, clean {sorted(clean['events'])}")
    for location, digest in clean["files"].items():
        if got["files"].get(location) != digest:
            problems.append(f"file {location}: sha256 {got['files'].get(location)}, clean {digest}")
            lost += 1
    if got["on_disk"] != clean["on_disk"]:
        problems.append(f"files under deliveries/: {got['on_disk']}, clean {clean['on_disk']}")
    for sub_id, want in clean["databases"].items():
        have = got["databases"].get(sub_id, {"rows": [], "book": Counter()})
        for version in set(want["book"]) | set(have["book"]):
            if have["book"][version] != 1:
                problems.append(
                    f"department database of subscription {sub_id}: {version} recorded {have['book'][version]} times"
                )
                lost += abs(have["book"][version] - 1)
        if have["rows"] != want["rows"]:
            missing, extra = _multiset_diff(want["rows"], have["rows"])
            problems.append(f"department database of subscription {sub_id}: {missing} rows missing, {extra} extra")
    if not got["chain_ok"]:
        problems.append("the exchange log's chain does not verify")
    return problems, lost
