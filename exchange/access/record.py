"""A person's or entity's access record (谁查了我的数据): every verification answer about them and every
delivery of a version that changed their record, read from the index by keyed subject hash.

The raw ID is hashed under every subject key the hub holds (`exchange.subjects.subject_hashes`) and
looked up; it is never stored or compared in clear. A delivery of versions (from, to] delivered the
subject when a version in that range touched one of its records; a snapshot at `to` delivered it when
its newest change up to `to` was not a deletion. Only deliveries whose subscription was granted the
field holding the subject count (every subscription has the primary key; a legal representative's ID
is delivered only to those granted `legal_rep_id`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import Department, Subscription
from exchange.access.assertion import SubjectKind
from exchange.access.index import parse_answer
from exchange.access.models import SubjectChange, SubjectQuery
from exchange.delivery.models import Delivery
from exchange.subjects import SubjectKeys, subject_hashes
from exchange.verify.clients import VerificationClient
from exchange.verify.items import load_items
from quality.codes import check_id_number, check_uscc

__all__ = ["AccessRecord", "DeliveryEntry", "QueryEntry", "access_record", "subject_problem"]

MAX_ENTRIES = 1000  # the newest this many of each kind; the page says when there were more


@dataclass(frozen=True)
class QueryEntry:
    """One verification answer about the subject: which approval system asked, for what, and what it was told."""

    at: datetime
    client: str
    client_name: str
    client_department: str | None
    item: str
    item_name: str
    item_name_en: str
    case_number: str | None
    purpose: str | None
    answer: dict[str, Any]
    resource: str | None
    version: int | None


@dataclass(frozen=True)
class DeliveryEntry:
    """One delivery of versions that carried the subject's record to a department, under its subscription."""

    at: datetime | None
    department: str
    department_name: str
    resource: str
    subscription_id: int
    purpose: str
    mode: str
    from_version: int | None
    to_version: int
    versions: tuple[int, ...]


@dataclass(frozen=True)
class AccessRecord:
    """Everything the hub exchanged about one subject, newest first."""

    kind: SubjectKind
    queries: list[QueryEntry] = field(default_factory=list)
    deliveries: list[DeliveryEntry] = field(default_factory=list)
    truncated: bool = False


def subject_problem(subject: str, kind: SubjectKind) -> str | None:
    """Why `subject` is not a valid ID of its kind (GB 11643 for a person, GB 32100 for an entity), or None."""
    value = (subject or "").strip().upper()
    return check_id_number(value) if kind == "person" else check_uscc(value)


def access_record(
    session: Session, subject: str, *, kind: SubjectKind, keys: SubjectKeys, limit: int = MAX_ENTRIES
) -> AccessRecord:
    """The subject's access record from the index (see the module docstring); newest first, `limit` of each."""
    hashes = subject_hashes(subject.strip().upper(), keys=keys)
    queries = list(
        session.scalars(
            select(SubjectQuery)
            .where(SubjectQuery.subject_hash.in_(hashes))
            .order_by(SubjectQuery.seq.desc())
            .limit(limit + 1)
        )
    )
    changes = session.execute(
        select(SubjectChange.resource, SubjectChange.version, SubjectChange.change, SubjectChange.field).where(
            SubjectChange.subject_hash.in_(hashes)
        )
    ).all()
    deliveries = _deliveries(session, changes)
    truncated = len(queries) > limit or len(deliveries) > limit
    return AccessRecord(
        kind=kind,
        queries=_query_entries(session, queries[:limit]),
        deliveries=deliveries[:limit],
        truncated=truncated,
    )


def _query_entries(session: Session, rows: list[SubjectQuery]) -> list[QueryEntry]:
    clients = {
        c.id: c
        for c in session.scalars(select(VerificationClient).where(VerificationClient.id.in_({r.client for r in rows})))
    }
    items = load_items()
    out = []
    for r in rows:
        client = clients.get(r.client)
        item = items.get(r.item)
        out.append(
            QueryEntry(
                at=_aware(r.recorded_at),
                client=r.client,
                client_name=client.name if client else r.client,
                client_department=client.department if client else None,
                item=r.item,
                item_name=item.name if item else r.item,
                item_name_en=item.name_en if item else r.item,
                case_number=r.case_number,
                purpose=r.purpose,
                answer=parse_answer(r.answer),
                resource=r.resource,
                version=r.version,
            )
        )
    return out


def _deliveries(session: Session, changes: Sequence[Any]) -> list[DeliveryEntry]:
    """The done deliveries whose range holds a version that changed the subject (snapshots: see module)."""
    by_resource: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for resource, version, change, field_name in changes:
        by_resource[resource].append((int(version), change, field_name))
    found: list[tuple[Delivery, tuple[int, ...]]] = []
    granted: dict[int, frozenset[str]] = {}
    for resource, everything in by_resource.items():
        everything.sort()
        rows = session.scalars(
            select(Delivery).where(
                Delivery.resource == resource,
                Delivery.status == "done",
                Delivery.to_version >= everything[0][0],
            )
        )
        for d in rows:
            if d.subscription_id not in granted:
                sub = session.get(Subscription, d.subscription_id)
                granted[d.subscription_id] = frozenset(sub.fields or ()) if sub is not None else frozenset()
            # a subscription not granted the field holding the subject did not carry it
            touched = [(v, c) for v, c, f in everything if f in granted[d.subscription_id]]
            versions: tuple[int, ...]
            if d.from_version is None:
                upto = [(v, c) for v, c in touched if v <= d.to_version]
                versions = (upto[-1][0],) if upto and upto[-1][1] != "delete" else ()
            else:
                versions = tuple(v for v, _ in touched if d.from_version < v <= d.to_version)
            if versions:
                found.append((d, versions))
    if not found:
        return []
    subscriptions = {
        s.id: s
        for s in session.scalars(select(Subscription).where(Subscription.id.in_({d.subscription_id for d, _ in found})))
    }
    names = {
        d.code: d.name
        for d in session.scalars(select(Department).where(Department.code.in_({d.department_code for d, _ in found})))
    }
    entries = [
        DeliveryEntry(
            at=_aware(d.finished_at) if d.finished_at else None,
            department=d.department_code,
            department_name=names.get(d.department_code, d.department_code),
            resource=d.resource,
            subscription_id=d.subscription_id,
            purpose=subscriptions[d.subscription_id].purpose if d.subscription_id in subscriptions else "",
            mode=d.mode,
            from_version=d.from_version,
            to_version=d.to_version,
            versions=versions,
        )
        for d, versions in found
    ]
    entries.sort(key=lambda e: (e.at or datetime.min.replace(tzinfo=UTC), e.to_version), reverse=True)
    return entries


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
