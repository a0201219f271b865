"""The sharing half of the demo: departments apply, providers decide, deliveries follow each version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from govhub.db import session_scope

__all__ = ["deliver_all", "delivery_table", "seed_subscriptions"]

# (user department, resource, fields, delivery mode, why): one of each sharing type the contracts have
# (无条件共享: legal_entity, credit_record; 有条件共享: person, payment) and of each delivery mode.
_APPLICATIONS = [
    (
        "市住建局",
        "legal_entity",
        ["uscc", "name", "entity_type", "status", "legal_rep_name"],
        "file",
        "建筑业企业资质审批核验市场主体登记状态",
        "《建筑业企业资质管理规定》",
    ),
    (
        "市人社局",
        "person",
        ["id_number", "name", "gender", "birth_date", "status"],
        "database",
        "社会保险待遇资格认证（生存状态核验）",
        "《社会保险法》第七十二条；国发〔2016〕51号",
    ),
    (
        "市税务局",
        "payment",
        ["payment_code", "payer_id", "amount", "paid_at", "status"],
        "api",
        "非税收入征缴数据比对",
        "《政务信息资源共享管理暂行办法》（国发〔2016〕51号）",
    ),
    (
        "市不动产登记中心",
        "credit_record",
        ["record_id", "record_type", "subject_code", "decision_date"],
        "file",
        "不动产登记前核查失信被执行人",
        "国务院令第716号第七条",
    ),
]


def seed_subscriptions(home: Path) -> list[dict[str, Any]]:
    """Seed departments and the demo's applications; providers grant the conditional ones."""
    from catalog import apply, decide, list_targets, register_contracts, seed_departments
    from catalog.subscriptions import Subscription
    from govhub.delivery_targets import add_target

    outcomes = []
    with session_scope() as session:
        departments = {d.name: d for d in seed_departments(session)}
        resources = {r.resource: r for r in register_contracts(session)}
        for name, resource, fields, mode, purpose, basis in _APPLICATIONS:
            department = departments[name]
            target = None
            if mode == "database":  # the hub administrator registers the department's database as a named target
                (home / "departments").mkdir(parents=True, exist_ok=True)
                target = f"{resource}-db"
                if not any(t.name == target for t in list_targets(session, department=department.code)):
                    url = f"sqlite:///{home / 'departments' / f'{resource}_{department.code}.sqlite'}"
                    add_target(session, department_code=department.code, name=target, url=url)
            existing = (
                session.query(Subscription)
                .filter_by(department_code=department.code, resource=resource, delivery_mode=mode)
                .first()
            )
            sub = existing or apply(
                session,
                department_code=department.code,
                resource=resource,
                purpose=purpose,
                legal_basis=basis,
                fields=fields,
                delivery_mode=mode,
                target=target,
            )
            if sub.status == "pending":  # 有条件共享: the provider decides
                provider = resources[resource].provider_code
                sub = decide(session, sub.id, actor_department=provider, approve=True, reason="符合共享条件")
            outcomes.append(
                {"department": name, "resource": resource, "mode": mode, "status": sub.status, "id": sub.id}
            )
    return outcomes


def deliver_all(resources: list[str]) -> list[dict[str, Any]]:
    """Run the deliveries of each resource (what the asset-scheduled delivery DAGs do)."""
    from govhub.delivery_runner import run_deliveries

    return [result for resource in resources for result in run_deliveries(resource)]


def delivery_table(results: list[dict[str, Any]], *, title: str) -> Table:
    """The deliveries made: who received what, from which version to which, how many rows."""
    table = Table(title=title)
    for column in ("department", "resource", "mode", "versions", "rows", "status", "where"):
        table.add_column(column)
    for r in results:
        versions = f"{'snapshot' if r.get('from_version') is None else r['from_version']} → {r.get('to_version')}"
        where = r.get("link") or r.get("location") or r.get("error") or ""
        table.add_row(
            str(r.get("department_code", "")),
            str(r.get("resource", "")),
            str(r.get("mode", "")),
            versions,
            str(r.get("rows", "")),
            str(r.get("status", "")),
            str(where),
        )
    return table
