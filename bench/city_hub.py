"""The city benchmark's child cases: build the sources, seed subscriptions, ingest, tick, deliver.

Each function runs in its own child process (`python -m bench.bench_city --case ...`) under the
GOVHUB_* environment the parent sets, and returns the JSON-ready facts the parent reconciles.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

__all__ = ["SUBSCRIBERS", "case_build", "case_deliver", "case_ingest", "case_setup", "case_tick"]

# Ten departments, each subscribed to one resource it does not provide: (department, resource, mode,
# PII access). Modes follow each contract's sharing methods (接口 api, 库表 database, 文件 file); every
# subscription takes all of the resource's fields, half of them masked (pseudonymous keys).
SUBSCRIBERS: tuple[tuple[str, str, str, bool], ...] = (
    ("市人社局", "person", "database", True),
    ("市医保局", "person", "file", False),
    ("市民政局", "person", "api", True),
    ("市住建局", "legal_entity", "file", False),
    ("市税务局", "legal_entity", "database", True),
    ("市公安局", "legal_entity", "api", False),
    ("市不动产登记中心", "credit_record", "file", True),
    ("市财政局", "credit_record", "api", False),
    ("市发改委", "payment", "file", False),
    ("市市场监管局", "payment", "api", True),
)
_METHOD_MODES = {"接口": "api", "库表": "database", "文件": "file"}


def case_build(root: str, scale: float, seed: int) -> dict[str, Any]:
    """Build the simulated sources of the city at `scale` in `root` (source time, not the hub's)."""
    from bench.city_sources import build_city, city_sizes, manifest_rows

    started = time.perf_counter()
    facts = build_city(Path(root), city_sizes(scale), seed=seed)
    facts["seconds"] = time.perf_counter() - started
    facts["payment_rows"] = manifest_rows(Path(root) / "inbox")
    return facts


def case_setup(departments_dir: str) -> dict[str, Any]:
    """Migrate the hub, seed Yiyang's departments and the ten subscriptions (providers grant them)."""
    from catalog import apply, decide, register_contracts, seed_departments
    from govhub.db import migrate, session_scope
    from govhub.delivery_targets import add_target
    from schemas import dependency_order, load_contract

    migrate()
    out = []
    with session_scope() as session:
        codes = {d.name: d.code for d in seed_departments(session)}
        resources = {r.resource: r for r in register_contracts(session)}
        for name, resource, mode, pii in SUBSCRIBERS:
            contract = load_contract(resource)
            allowed = {_METHOD_MODES[m] for m in _METHOD_MODES if m in (contract.sharing.get("method") or "")}
            if allowed and mode not in allowed:
                raise ValueError(f"{resource} is not shared by {mode} (sharing methods: {sorted(allowed)})")
            target = None
            if mode == "database":  # registered by the hub administrator, picked by name
                Path(departments_dir).mkdir(parents=True, exist_ok=True)
                target = f"{resource}-db"
                url = f"sqlite:///{Path(departments_dir).resolve() / f'{resource}_{codes[name]}.sqlite'}"
                add_target(session, department_code=codes[name], name=target, url=url)
            sub = apply(
                session,
                department_code=codes[name],
                resource=resource,
                purpose="城市规模基准：共享交换",
                legal_basis="《政务信息资源共享管理暂行办法》（国发〔2016〕51号）",
                fields=contract.field_names,
                pii_access=pii,
                delivery_mode=mode,
                target=target,
            )
            if sub.status == "pending":  # 有条件共享: the provider decides
                sub = decide(
                    session,
                    sub.id,
                    actor_department=resources[resource].provider_code,
                    approve=True,
                    reason="符合共享条件",
                )
            out.append({"department": name, "resource": resource, "mode": mode, "pii": pii, "status": sub.status})
    return {"order": dependency_order(), "subscriptions": out}


def case_ingest(resource: str) -> dict[str, Any]:
    """One `run_ingest(resource)` in this process: its summary, per-stage seconds and work seconds."""
    from govhub.db import session_scope
    from govhub.models import IngestRun
    from govhub.pipeline import run_ingest

    started = time.perf_counter()
    summary = run_ingest(resource)
    seconds = time.perf_counter() - started
    with session_scope() as session:
        stages = dict(session.get(IngestRun, summary["run_id"]).stage_seconds or {})
    keys = ("status", "version", "extracted", "accepted", "rejected", "pending", "reconciled")
    return {"work_seconds": seconds, "stages": stages, **{k: summary[k] for k in keys}}


def case_tick(root: str, day: int) -> dict[str, Any]:
    """One simulated working day at every source (1 % changes); the rows each source now offers."""
    from bench.city_sources import manifest_rows
    from simulators import tick_all

    started = time.perf_counter()
    summary = tick_all(Path(root), day=day)
    seconds = time.perf_counter() - started
    changes = summary.changes
    offered = {resource: sum(changes[resource].values()) for resource in ("person", "legal_entity", "credit_record")}
    offered["payment"] = manifest_rows(Path(root) / "inbox", [summary.settlement_file.name])
    return {"seconds": seconds, "changes": changes, "offered": offered}


def case_deliver(resource: str) -> dict[str, Any]:
    """Deliver the resource's current version to its granted subscriptions (`run_deliveries`)."""
    from govhub.delivery_runner import run_deliveries

    started = time.perf_counter()
    results = run_deliveries(resource)
    seconds = time.perf_counter() - started
    return {
        "work_seconds": seconds,
        "deliveries": len(results),
        "done": sum(r["status"] == "done" for r in results),
        "rows": sum(r["rows"] for r in results),
        "rows_each": [r["rows"] for r in results],
        "snapshot": any(r.get("from_version") is None for r in results),
        "errors": [r["error"] for r in results if r.get("error")],
    }
