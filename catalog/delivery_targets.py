"""Delivery targets: databases a hub administrator registered for a department, by name.

A department never sends a connection URL. The hub administrator registers a target — a name for one
department and a reference to where its connection is held, never the connection itself:

- `file:<path>`: a secret file holding the SQLAlchemy URL (mode 0600; `govhub target add --url`
  writes one under `<GOVHUB_HOME>/keys/delivery-targets/`, or name an existing Docker/Kubernetes secret);
- `setting:<key>`: the entry `<key>` of the setting `GOVHUB_DELIVERY_TARGETS` (a JSON object).

A department applies with one of its own target names. Before every registration and every delivery
the hub resolves the target and refuses it when it reaches a store of the hub itself (its metadata
store, its source registries) or the target of another department — compared by resolved host
addresses, port and database (`catalog.target_identity`), not by spelling. What a department is told
names the target only, never a host, a port, a path or a driver message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from catalog.db import Base, utcnow
from catalog.departments import get_department
from catalog.errors import CatalogAccessDenied, CatalogError
from catalog.target_identity import Endpoint, endpoint_of, same_endpoint

__all__ = [
    "DeliveryTarget",
    "TargetRefs",
    "check_target",
    "get_target",
    "list_targets",
    "register_target",
    "remove_target",
    "resolve_connection",
    "resolve_target_url",
]

log = logging.getLogger(__name__)

TargetRefs = Mapping[str, str]  # the GOVHUB_DELIVERY_TARGETS setting: key -> SQLAlchemy URL
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class DeliveryTarget(Base):
    """A named database target of one department; `connection_ref` says where its URL is held."""

    __tablename__ = "delivery_target"
    __table_args__ = (UniqueConstraint("department_code", "name", name="uq_delivery_target_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("department.code"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    connection_ref: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    registered_by: Mapped[str] = mapped_column(String(64))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)

    @property
    def source(self) -> str:
        """`file` or `setting`: where the connection is held (the only thing ever shown about it)."""
        return self.connection_ref.split(":", 1)[0]


def resolve_connection(connection_ref: str, *, settings_targets: TargetRefs | None = None) -> str:
    """The SQLAlchemy URL a reference holds; ValueError (no secret in the message) when it cannot be read."""
    kind, _, where = connection_ref.partition(":")
    if kind == "file":
        try:
            url = Path(where).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ValueError(f"the secret file cannot be read ({type(e).__name__})") from e
    elif kind == "setting":
        url = (settings_targets or {}).get(where, "")
        if not url:
            raise ValueError(f"GOVHUB_DELIVERY_TARGETS has no entry {where!r}")
    else:
        raise ValueError(f"unknown connection reference kind {kind!r}; expected file: or setting:")
    if "://" not in url:
        raise ValueError("the held connection is not a SQLAlchemy URL")
    return url


def list_targets(session: Session, *, department: str | None = None, active_only: bool = True) -> list[DeliveryTarget]:
    """Registered targets, by department and name."""
    query = select(DeliveryTarget).order_by(DeliveryTarget.department_code, DeliveryTarget.name)
    if department is not None:
        query = query.where(DeliveryTarget.department_code == department)
    if active_only:
        query = query.where(DeliveryTarget.active.is_(True))
    return list(session.scalars(query))


def get_target(session: Session, department_code: str, name: str) -> DeliveryTarget:
    """A department's active target by name; CatalogError(not_found) naming only the target."""
    target = session.scalars(
        select(DeliveryTarget).where(
            DeliveryTarget.department_code == department_code,
            DeliveryTarget.name == name,
            DeliveryTarget.active.is_(True),
        )
    ).first()
    if target is None:
        raise CatalogError(
            f"department {department_code} has no delivery target named {name!r}; pick one of its registered "
            "targets (GET /api/targets) or ask the hub administrator to register one",
            message_zh=f"本部门没有名为 {name!r} 的交付目标，请选择已登记的目标或联系平台管理员登记",
            kind="not_found",
            field="target",
        )
    return target


def _endpoint(url: str, what: str) -> Endpoint:
    try:
        return endpoint_of(url)
    except ValueError as e:
        raise CatalogError(
            f"{what} does not hold a usable SQLAlchemy URL; the hub administrator must correct it",
            message_zh="交付目标的连接配置无效，请联系平台管理员",
            field="target",
        ) from e


def check_target(
    session: Session,
    *,
    department_code: str,
    name: str,
    url: str,
    reserved: Mapping[str, str],
    settings_targets: TargetRefs | None = None,
) -> None:
    """Refuse a URL that reaches one of the hub's own stores or another department's target.

    `reserved` maps a label (e.g. "hub metadata store") to a URL of the hub itself. Another
    department's target that cannot be resolved is skipped (logged): it cannot be compared.
    """
    what = f"delivery target {name!r} of department {department_code}"
    mine = _endpoint(url, what)
    for label, other_url in reserved.items():
        if other_url and same_endpoint(mine, endpoint_of(other_url)):
            log.error("%s reaches the %s; refused", what, label)
            raise CatalogAccessDenied(
                f"{what} reaches a store of the hub itself; deliveries to it are refused — the hub administrator "
                "must register the department's own database",
                message_zh=f"交付目标 {name} 指向平台自身的数据库，已拒绝",
                department=department_code,
            )
    for other in list_targets(session):
        if other.department_code == department_code:
            continue
        try:
            other_url = resolve_connection(other.connection_ref, settings_targets=settings_targets)
            theirs = endpoint_of(other_url)
        except ValueError:
            log.warning(
                "target %r of department %s cannot be resolved; not compared", other.name, other.department_code
            )
            continue
        if same_endpoint(mine, theirs):
            log.error("%s reaches target %r of department %s; refused", what, other.name, other.department_code)
            raise CatalogAccessDenied(
                f"{what} reaches the database of another department's target; deliveries to it are refused",
                message_zh=f"交付目标 {name} 指向其他部门的数据库，已拒绝",
                department=department_code,
            )


def register_target(
    session: Session,
    *,
    department_code: str,
    name: str,
    connection_ref: str,
    reserved: Mapping[str, str],
    settings_targets: TargetRefs | None = None,
    actor: str = "govhub-admin",
    note: str | None = None,
) -> DeliveryTarget:
    """Register (or re-point) a department's named target after resolving and checking it.

    Raises CatalogError for a bad name, an unknown department or a reference that cannot be read,
    CatalogAccessDenied when it reaches the hub's own store or another department's target.
    """
    department = get_department(session, department_code)
    if not _NAME.match(name):
        raise CatalogError(
            f"target name {name!r} must be 1-64 lower-case letters, digits, '-' or '_', starting with a letter "
            "or digit",
            message_zh="交付目标名称只能包含小写字母、数字、- 和 _",
            field="name",
        )
    try:
        url = resolve_connection(connection_ref, settings_targets=settings_targets)
    except ValueError as e:
        raise CatalogError(
            f"the connection of target {name!r} cannot be used: {e}",
            message_zh="交付目标的连接配置无法读取",
            field="connection",
        ) from e
    check_target(
        session,
        department_code=department.code,
        name=name,
        url=url,
        reserved=reserved,
        settings_targets=settings_targets,
    )
    target = session.scalars(
        select(DeliveryTarget).where(DeliveryTarget.department_code == department.code, DeliveryTarget.name == name)
    ).first()
    if target is None:
        target = DeliveryTarget(department_code=department.code, name=name)
        session.add(target)
    target.connection_ref, target.active, target.registered_by = connection_ref, True, actor
    target.registered_at, target.note = utcnow(), note
    session.flush()
    log.info("delivery target %r registered for %s by %s (%s)", name, department.code, actor, target.source)
    return target


def remove_target(session: Session, department_code: str, name: str) -> DeliveryTarget:
    """Retire a target: deliveries naming it fail (recorded, retried) until the grant is changed."""
    target = get_target(session, department_code, name)
    target.active = False
    session.flush()
    return target


def resolve_target_url(
    session: Session,
    department_code: str,
    name: str | None,
    *,
    reserved: Mapping[str, str] | None = None,
    settings_targets: TargetRefs | None = None,
) -> str:
    """The URL to deliver to, checked again at delivery time (files, settings and DNS may have changed)."""
    if not name:
        raise CatalogError(
            f"department {department_code} has a database-mode subscription without a delivery target",
            message_zh="库表交付未指定交付目标",
            field="target",
        )
    target = get_target(session, department_code, name)
    try:
        url = resolve_connection(target.connection_ref, settings_targets=settings_targets)
    except ValueError as e:
        log.error("delivery target %r of %s cannot be resolved: %s", name, department_code, e)
        raise CatalogError(
            f"delivery target {name!r} of department {department_code} is not configured correctly; "
            "the hub administrator has the details",
            message_zh=f"交付目标 {name} 配置有误，请联系平台管理员",
            field="target",
        ) from e
    check_target(
        session,
        department_code=department_code,
        name=name,
        url=url,
        reserved=reserved or {},
        settings_targets=settings_targets,
    )
    return url
