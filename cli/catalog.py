"""`govhub catalog ...` and `govhub subscription ...`: the resource catalogue and sharing applications."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from cli.masking import masked_cell, print_masking
from cli.support import BEIJING_COLUMN, beijing, console, deprecated_alias, friendly

__all__ = ["catalog_app", "catalog_session", "subscription_app"]

catalog_app = typer.Typer(help="资源目录 — the governed resource catalogue.", no_args_is_help=True)
department_app = typer.Typer(help="部门 — the departments that provide and use data.", no_args_is_help=True)
subscription_app = typer.Typer(help="共享申请 — apply for, decide and revoke subscriptions.", no_args_is_help=True)

AsDepartment = Annotated[str, typer.Option("--as", help="Act as this department (its code or name, 市人社局).")]
_STATUS_COLOUR = {"pending": "yellow", "granted": "green", "refused": "red", "revoked": "dim"}


@contextmanager
def catalog_session() -> Iterator[Session]:
    """A committed session on a migrated store with the contracts registered (idempotent, cheap)."""
    from catalog import register_contracts
    from govhub.db import migrate, session_scope
    from govhub.sharing_disputes import apply_sharing_limits

    apply_sharing_limits()
    migrate()
    with session_scope() as session:
        register_contracts(session)
        yield session


def _resource_table(resources: list[Any], title: str) -> Table:
    table = Table(title=title)
    for column in ("code 资源代码", "resource", "名称", "provider 提供部门", "共享类型", "更新周期", "items"):
        table.add_column(column)
    for r in resources:
        table.add_row(r.code, r.resource, r.name, r.provider_name, r.sharing_type, r.update_cycle, str(len(r.items)))
    return table


def _code(session: Session, department: str) -> str:
    """A department's code from its code or its name."""
    from catalog import get_department

    return get_department(session, department).code


@department_app.command("list")
@friendly
def list_departments() -> None:
    """Every department: code (统一社会信用代码), name, kind, and whether it has an API key."""
    from sqlalchemy import select

    from catalog import Department

    with catalog_session() as session:
        departments = session.scalars(select(Department).order_by(Department.kind, Department.code)).all()
        table = Table(title="departments 部门")
        for column in ("code 代码", "名称", "name", "kind 类别", "API key 密钥"):
            table.add_column(column)
        for d in departments:
            has_key = "已签发 issued" if d.api_key_hash else "未签发 — govhub catalog issue-key " + d.name
            table.add_row(d.code, d.name, d.name_en, d.kind, has_key)
    console.print(table)
    if not departments:
        console.print("no departments yet: run `govhub catalog seed` — 尚无部门，请先运行 govhub catalog seed")


@catalog_app.command("seed")
@friendly
def seed(
    keys: Annotated[bool, typer.Option(help="Issue a new API key for every department and print it once.")] = False,
) -> None:
    """Register the contracts as resources and seed Yiyang's departments."""
    from catalog import issue_api_key, seed_departments

    with catalog_session() as session:
        departments = seed_departments(session)
        table = Table(title="departments 部门")
        for column in ("code", "名称", "kind", *(["API key (shown once)"] if keys else [])):
            table.add_column(column)
        for d in departments:
            key = [issue_api_key(session, d.code)] if keys else []
            table.add_row(d.code, d.name, d.kind, *key)
    console.print(table)


@catalog_app.command("issue-key")
@friendly
def issue_key(department: Annotated[str, typer.Argument(help="Department code or name (市人社局).")]) -> None:
    """Issue a new API key for a department (the old one stops working); printed once."""
    from catalog import issue_api_key

    with catalog_session() as session:
        key = issue_api_key(session, department)
    console.print(key, highlight=False)


@catalog_app.command("list")
@friendly
def list_resources() -> None:
    """Every resource in the catalogue."""
    from catalog import search_resources

    with catalog_session() as session:
        console.print(_resource_table(search_resources(session), "资源目录 resource catalogue"))


@catalog_app.command("search")
@friendly
def search(
    q: Annotated[str, typer.Argument(help="Words to find (names, data items, provider, classification).")],
    provider: Annotated[str | None, typer.Option(help="Provider code or name.")] = None,
    classification: Annotated[str | None, typer.Option(help="Classification code prefix or label.")] = None,
    sharing_type: Annotated[str | None, typer.Option(help="无条件共享/有条件共享/不予共享.")] = None,
) -> None:
    """Find resources by words, provider, classification or sharing type."""
    from catalog import search_resources

    with catalog_session() as session:
        found = search_resources(
            session, q=q, provider=provider, classification=classification, sharing_type=sharing_type
        )
        console.print(_resource_table(found, f"search 检索: {q}"))


@catalog_app.command("show")
@friendly
def show(code: Annotated[str, typer.Argument(help="Resource code or contract name.")]) -> None:
    """One resource: metadata, data items and versions."""
    from catalog import get_resource, list_versions, release_date

    with catalog_session() as session:
        r = get_resource(session, code)
        released = release_date(session, r)
        meta = Table(title=f"{r.code} {r.name} ({r.name_en})", show_header=False)
        for key, value in (
            ("resource", r.resource),
            (
                "分类 classification",
                f"{r.classification_code} {r.classification.get('class', '')}/"
                f"{r.classification.get('item', '')}/{r.classification.get('category', '')}",
            ),
            ("提供部门 provider", f"{r.provider_code} {r.provider_name}"),
            ("摘要 abstract", r.abstract),
            ("格式 format", r.format),
            ("共享 sharing", f"{r.sharing_type} {r.sharing_condition} ({r.sharing_method})"),
            ("开放 openness", f"{'是' if r.open_to_public else '否'} {r.open_condition}"),
            ("更新周期 update cycle", r.update_cycle),
            ("发布日期 release date（北京时间）", beijing(released)),
            ("关联资源 related", ", ".join(r.related) or "—"),
        ):
            meta.add_row(key, value)
        items = Table(title="信息项 data items")
        for column in ("name", "名称", "label_en", "type", "pii", "required", "key"):
            items.add_column(column)
        for i in r.items:
            items.add_row(
                i.name, i.label, i.label_en, i.type, i.pii, "✓" if i.required else "", "✓" if i.primary_key else ""
            )
        versions = Table(title="版本 versions")
        for column in ("version", "committed" + BEIJING_COLUMN, "run", "rows", "+", "~", "-"):
            versions.add_column(column)
        for v in list_versions(session, r.resource)[:20]:
            versions.add_row(
                str(v.version),
                beijing(v.committed_at),
                v.run_id,
                str(v.rows_total or "—"),
                str(v.rows_inserted),
                str(v.rows_updated),
                str(v.rows_deleted),
            )
    console.print(meta, items, versions)


@catalog_app.command("export-dcat")
@friendly
def export_dcat(
    file: Annotated[Path, typer.Argument(help="Where to write the JSON-LD.")],
    base_url: Annotated[str, typer.Option(help="Public base URL of the hub's API.")] = "http://127.0.0.1:8000",
) -> None:
    """Write the catalogue as DCAT JSON-LD."""
    from catalog import catalogue_dcat

    with catalog_session() as session:
        document = catalogue_dcat(session, base_url=base_url)
    file.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    console.print(f"wrote {len(document['dcat:dataset'])} datasets to {file}")


def _pii_column(sub: Any) -> str:
    """What unmasked personal information an application asks for (the provider decides on it)."""
    from sqlalchemy.orm import object_session

    from catalog import get_resource, pii_items

    if not sub.pii_access:
        return ""
    session = object_session(sub)
    items = pii_items(get_resource(session, sub.resource), sub.fields) if session is not None else []
    return "✓ " + ", ".join(f"{i.label}({i.pii})" for i in items)


def _subscription_table(subs: list[Any], title: str) -> Table:
    table = Table(title=title)
    columns = (
        "id",
        "resource",
        "department 申请部门",
        "delivery_mode",
        "fields",
        "pii_access",
        "脱敏 masked",
        "status",
    )
    for column in (*columns, "due 答复期限", "note"):
        table.add_column(column)
    for s in subs:
        colour = _STATUS_COLOUR.get(s.status, "white")
        note = s.refusal_reason or (s.events[-1].note if s.events else "") or ""
        table.add_row(
            str(s.id),
            s.resource,
            s.department_code,
            s.delivery_mode,
            ", ".join(s.fields),
            _pii_column(s),
            masked_cell(s.resource, s.fields, pii_access=s.pii_access),
            f"[{colour}]{s.status}[/]",
            beijing(s.due_at),
            note,
        )
    return table


@subscription_app.command("apply")
@friendly
def apply_cmd(
    as_department: AsDepartment,
    resource: Annotated[str, typer.Option(help="Resource code or contract name.")],
    purpose: Annotated[str, typer.Option(help="用途.")],
    legal_basis: Annotated[str, typer.Option(help="依据: the law or policy.")],
    field: Annotated[list[str], typer.Option("--field", "-f", help="A data item (repeat); key added.")],
    delivery_mode: Annotated[
        str | None, typer.Option("--delivery-mode", help="交付方式 — file, database or api (default file).")
    ] = None,
    target: Annotated[str | None, typer.Option(help="Database mode: one of the department's target names.")] = None,
    schedule: Annotated[str, typer.Option(help="'on_publish' or a 5-field cron.")] = "on_publish",
    pii_access: Annotated[
        bool, typer.Option("--pii-access", help="未脱敏个人信息 — ask for unmasked personal information.")
    ] = False,
    scope: Annotated[str | None, typer.Option(help="使用范围: where and by whom the data is used.")] = None,
    valid_until: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="使用期限: last day of use (YYYY-MM-DD).")
    ] = None,
    mode: Annotated[str | None, typer.Option("--mode", hidden=True, help="Deprecated: --delivery-mode.")] = None,
    pii: Annotated[bool, typer.Option("--pii", hidden=True, help="Deprecated: --pii-access.")] = False,
) -> None:
    """Apply for a resource as a department (options named as the API's fields: delivery_mode, pii_access...)."""
    from catalog import apply

    delivery_mode = deprecated_alias(delivery_mode, mode, name="--delivery-mode", old="--mode", default="file")
    pii_access = deprecated_alias(pii_access, pii, name="--pii-access", old="--pii", default=False)

    with catalog_session() as session:
        sub = apply(
            session,
            department_code=_code(session, as_department),
            resource=resource,
            purpose=purpose,
            legal_basis=legal_basis,
            scope=scope,
            valid_until=valid_until.date() if valid_until else None,
            strict=True,
            fields=field,
            pii_access=pii_access,
            delivery_mode=delivery_mode,
            target=target,
            schedule=schedule,  # type: ignore[arg-type]
        )
        console.print(_subscription_table([sub], f"申请 #{sub.id}"))
        print_masking(sub.resource, sub.fields, pii_access=sub.pii_access, subscription_id=sub.id)


@subscription_app.command("decide")
@friendly
def decide_cmd(
    subscription_id: Annotated[int, typer.Argument(help="Application id.")],
    as_department: AsDepartment,
    approve: Annotated[bool, typer.Option("--approve/--refuse", help="Grant or refuse.")],
    reason: Annotated[str | None, typer.Option(help="Reasons (required to refuse).")] = None,
) -> None:
    """Grant or refuse a pending application, as the provider department."""
    from catalog import decide

    with catalog_session() as session:
        sub = decide(
            session, subscription_id, actor_department=_code(session, as_department), approve=approve, reason=reason
        )
        console.print(_subscription_table([sub], f"申请 #{sub.id}"))


@subscription_app.command("revoke")
@friendly
def revoke_cmd(
    subscription_id: Annotated[int, typer.Argument(help="Subscription id.")],
    as_department: AsDepartment,
    reason: Annotated[str, typer.Option(help="Why the grant is withdrawn.")],
) -> None:
    """Revoke a grant (provider, subscriber or govhub-admin); deliveries stop from the next one."""
    from catalog import revoke

    with catalog_session() as session:
        from catalog import HUB_ADMIN

        actor = as_department if as_department == HUB_ADMIN else _code(session, as_department)
        sub = revoke(session, subscription_id, actor=actor, reason=reason)
        console.print(_subscription_table([sub], f"申请 #{sub.id}"))


@subscription_app.command("list")
@friendly
def list_cmd(
    as_department: Annotated[str | None, typer.Option("--as", help="Only this department's view.")] = None,
    status: Annotated[str | None, typer.Option(help="pending, granted, refused or revoked.")] = None,
) -> None:
    """Applications a department made or must decide (all of them without --as)."""
    from catalog import get_department, list_subscriptions

    if status is not None and status not in _STATUS_COLOUR:
        raise typer.BadParameter(f"unknown status {status!r}; choose one of: {', '.join(_STATUS_COLOUR)}")
    with catalog_session() as session:
        if as_department is not None:
            as_department = get_department(session, as_department).code
        subs = list_subscriptions(session, department=as_department, status=status)  # type: ignore[arg-type]
        console.print(_subscription_table(subs, "共享申请 subscriptions"))


@subscription_app.command("overdue")
@friendly
def overdue_cmd() -> None:
    """Pending applications past their 10-working-day answer deadline (each flagged once)."""
    from catalog import overdue_applications

    with catalog_session() as session:
        subs = overdue_applications(session)
        console.print(_subscription_table(subs, "逾期未答复 overdue applications"))
