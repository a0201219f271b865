"""Catalogue entries (GB/T 21063 core metadata) derived from the data contracts, with stable codes."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from catalog.db import Base, utcnow
from catalog.errors import CatalogError
from catalog.versions import DatasetVersion
from schemas import Contract, Field, load_all

__all__ = [
    "RESOURCE_FORMAT",
    "Resource",
    "ResourceItem",
    "field_type_text",
    "get_resource",
    "register_contracts",
    "release_date",
]

log = logging.getLogger(__name__)

RESOURCE_FORMAT = "Delta/Parquet; 接口 JSON"


class Resource(Base):
    """One governed resource (信息资源) per contract; `code` is issued once and never changes."""

    __tablename__ = "resource"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), unique=True)  # the contract's name, e.g. "person"
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    abstract: Mapped[str] = mapped_column(Text, default="")
    classification_code: Mapped[str] = mapped_column(String(16), index=True)
    classification: Mapped[dict] = mapped_column(JSON, default=dict)  # 类/项/目 labels and codes
    provider_code: Mapped[str] = mapped_column(String(32), index=True)
    provider_name: Mapped[str] = mapped_column(String(100))
    source_system: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(100), default=RESOURCE_FORMAT)
    sharing_type: Mapped[str] = mapped_column(String(16))  # 无条件共享 / 有条件共享 / 不予共享
    sharing_condition: Mapped[str] = mapped_column(Text, default="")
    sharing_method: Mapped[str] = mapped_column(String(100), default="")
    open_to_public: Mapped[bool] = mapped_column(Boolean, default=False)
    open_condition: Mapped[str] = mapped_column(Text, default="")
    update_cycle: Mapped[str] = mapped_column(String(8))
    primary_key: Mapped[list] = mapped_column(JSON, default=list)
    related: Mapped[list] = mapped_column(JSON, default=list)  # related resource codes
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    items: Mapped[list[ResourceItem]] = relationship(
        back_populates="resource_entry", order_by="ResourceItem.position", cascade="all, delete-orphan"
    )

    @property
    def sequence(self) -> int:
        """The 3-digit sequence number within the classification."""
        return int(self.code[-3:])

    def __repr__(self) -> str:
        return f"Resource({self.code!r}, {self.resource!r}, {self.name!r})"


class ResourceItem(Base):
    """One data item (信息项) of a resource, copied from its contract field."""

    __tablename__ = "resource_item"
    __table_args__ = (UniqueConstraint("resource_code", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource_code: Mapped[str] = mapped_column(ForeignKey("resource.code", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(100))
    label_en: Mapped[str] = mapped_column(String(200), default="")
    type: Mapped[str] = mapped_column(String(32))
    pii: Mapped[str] = mapped_column(String(16), default="none")
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    primary_key: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")

    resource_entry: Mapped[Resource] = relationship(back_populates="items")

    @property
    def resource(self) -> str:
        """The code of the resource this item belongs to."""
        return self.resource_code


def field_type_text(field: Field) -> str:
    """The contract's type as written there (decimal keeps its precision and scale)."""
    return f"decimal({field.precision},{field.scale})" if field.type == "decimal" else field.type


def register_contracts(
    session: Session, contracts: Mapping[str, Contract] | Iterable[Contract] | None = None
) -> list[Resource]:
    """Create or refresh the catalogue entry of each contract (default: every shipped contract).

    Idempotent: a resource keeps the code it got at first registration, even when its contract
    changes classification or new contracts join; its items follow the contract (added, updated,
    removed). Related resources are stored by code once both sides are registered.
    """
    if contracts is None:
        contracts = load_all()
    items = list(contracts.values()) if isinstance(contracts, Mapping) else list(contracts)
    registered = [_register_one(session, contract) for contract in items]
    session.flush()
    codes = dict(session.execute(select(Resource.resource, Resource.code)).tuples().all())
    for contract, entry in zip(items, registered, strict=True):
        entry.related = [codes[name] for name in contract.related if name in codes]
        missing = [name for name in contract.related if name not in codes]
        if missing:
            log.info("resource %s: related resource(s) %s are not registered yet", contract.resource, missing)
    session.flush()
    return registered


def get_resource(session: Session, key: str) -> Resource:
    """A resource by its catalogue code (e.g. 101001001) or its contract name (e.g. person)."""
    entry = session.scalars(select(Resource).where(or_(Resource.code == key, Resource.resource == key))).first()
    if entry is None:
        known = ", ".join(
            f"{code} ({name})" for code, name in session.execute(select(Resource.code, Resource.resource))
        )
        raise CatalogError(
            f"unknown resource '{key}'; known resources: {known or 'none registered (run `govhub catalog seed`)'}",
            message_zh=f"资源 {key} 不存在于资源目录中",
            kind="not_found",
            resource=key,
        )
    return entry


def release_date(session: Session, resource: Resource | str) -> datetime | None:
    """When the resource was first published: the time of its first dataset version (None before)."""
    name = resource.resource if isinstance(resource, Resource) else resource
    return session.scalar(select(func.min(DatasetVersion.committed_at)).where(DatasetVersion.resource == name))


def _register_one(session: Session, contract: Contract) -> Resource:
    entry = session.scalars(select(Resource).where(Resource.resource == contract.resource)).one_or_none()
    classification_code = contract.classification["code"]
    if entry is None:
        entry = Resource(code=_next_code(session, classification_code), resource=contract.resource, items=[])
        session.add(entry)
        log.info("registered resource %s as %s", contract.resource, entry.code)
    entry.name = contract.title
    entry.name_en = contract.title_en
    entry.abstract = contract.abstract
    entry.classification_code = classification_code
    entry.classification = dict(contract.classification)
    entry.provider_code = contract.provider["code"]
    entry.provider_name = contract.provider["name"]
    entry.source_system = contract.source.system
    entry.format = RESOURCE_FORMAT
    entry.sharing_type = contract.sharing["type"]
    entry.sharing_condition = contract.sharing.get("condition", "")
    entry.sharing_method = contract.sharing.get("method", "")
    entry.open_to_public = bool(contract.openness.get("open", False))
    entry.open_condition = str(contract.openness.get("condition", ""))
    entry.update_cycle = contract.update_cycle
    entry.primary_key = list(contract.primary_key)
    entry.updated_at = utcnow()
    _sync_items(entry, contract)
    return entry


def _next_code(session: Session, classification_code: str) -> str:
    """Classification code + the next free 3-digit sequence within it (codes are never reused)."""
    pending = [obj.code for obj in session.new if isinstance(obj, Resource)]
    existing = list(session.scalars(select(Resource.code).where(Resource.code.like(f"{classification_code}___"))))
    sequences = [int(code[-3:]) for code in [*existing, *pending] if code.startswith(classification_code)]
    sequence = max(sequences, default=0) + 1
    if sequence > 999:
        raise CatalogError(
            f"classification {classification_code} has no free resource sequence left (999 issued)",
            message_zh=f"分类 {classification_code} 下的资源顺序号已用尽",
            kind="conflict",
        )
    return f"{classification_code}{sequence:03d}"


def _sync_items(entry: Resource, contract: Contract) -> None:
    by_name = {item.name: item for item in entry.items}
    wanted = []
    for position, field in enumerate(contract.fields, start=1):
        item = by_name.get(field.name) or ResourceItem(name=field.name)
        item.position = position
        item.label = field.label
        item.label_en = field.label_en
        item.type = field_type_text(field)
        item.pii = field.pii
        item.required = field.required
        item.primary_key = field.name in contract.primary_key
        item.description = field.description
        wanted.append(item)
    entry.items = wanted  # delete-orphan removes the items the contract no longer has
