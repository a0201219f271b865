"""Deliver a resource's new dataset version to every granted subscription, exactly once per version.

For each granted subscription: the net change feed after the last version it received (a full
snapshot the first time), restricted to its granted fields and masked unless it has PII access
(`exchange.delivery.masking`), then written by its delivery mode. One `delivery` row per
(subscription, to_version) is committed as `running` BEFORE anything leaves the hub and turned `done`
or `failed` after; the session is committed at each of those steps so the record survives a crash.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa
from sqlalchemy import exc as sa_exc
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog import utcnow
from exchange.delivery.errors import DeliveryError
from exchange.delivery.feed import NetFeed, StreamChecksum, net_changes, order_by_key, table_checksum
from exchange.delivery.lock import delivery_lock
from exchange.delivery.masking import restrict_and_mask
from exchange.delivery.models import Delivery
from exchange.delivery.notice import masked_fields
from exchange.delivery.snapshot import SnapshotView, snapshot_view
from exchange.delivery.targets import Rows, target_recorded, write_database, write_file
from lake import CuratedTable, Lake, ObjectStore
from schemas import Contract, GovhubError, load_contract

if TYPE_CHECKING:
    from exchange.log import ExchangeLog
    from exchange.subjects import SubjectKeys

__all__ = [
    "DeliveryResult",
    "SubscriptionLike",
    "TargetResolver",
    "deliver_resource",
    "delivery_view",
    "file_key",
    "last_done_version",
    "list_deliveries",
]

log = logging.getLogger(__name__)


class SubscriptionLike(Protocol):
    """What delivery reads of `catalog.subscriptions.Subscription`."""

    id: int
    resource: str
    department_code: str
    purpose: str
    fields: list[str]
    pii_access: bool
    delivery_mode: str
    target_name: str | None
    status: str


TargetResolver = Callable[[SubscriptionLike], str]  # a database subscription -> its checked target URL


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one delivery; `link` is the download link (file mode) or pull URL (api mode)."""

    subscription_id: int
    department_code: str
    resource: str
    mode: str
    from_version: int | None
    to_version: int
    status: str
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    bytes: int | None = None
    checksum: str | None = None
    location: str | None = None
    link: str | None = None
    error: str | None = None
    error_code: str | None = None
    seconds: float = 0.0
    recovered: bool = False
    masked_fields: tuple[str, ...] = ()  # granted fields delivered masked (no PII access): exchange.delivery.notice

    @property
    def rows(self) -> int:
        return self.rows_inserted + self.rows_updated + self.rows_deleted

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for the CLI, Airflow XCom and logs)."""
        return {**asdict(self), "rows": self.rows}


def file_key(department: str, resource: str, from_version: int | None, to_version: int) -> str:
    """Lake object key of a file delivery: deterministic, so a repeat overwrites instead of copying."""
    name = f"snapshot-v{to_version}" if from_version is None else f"v{from_version}-{to_version}"
    return f"deliveries/{department}/{resource}/{name}.parquet"


def last_done_version(session: Session, subscription_id: int) -> int | None:
    """The newest version a subscription has received (None: nothing yet, next is a snapshot)."""
    return session.scalar(
        select(Delivery.to_version)
        .where(Delivery.subscription_id == subscription_id, Delivery.status == "done")
        .order_by(Delivery.to_version.desc())
        .limit(1)
    )


def delivery_view(feed: NetFeed, contract: Contract, sub: SubscriptionLike, *, secret: bytes) -> pa.Table:
    """What `sub` may see of a net feed: granted fields, masked PII, ordered by the delivered key."""
    table = restrict_and_mask(
        feed.table,
        contract,
        fields=sub.fields,
        pii_access=sub.pii_access,
        secret=secret,
        department=sub.department_code,
    )
    return order_by_key(table, list(contract.primary_key))


def deliver_resource(
    session: Session,
    lake: Lake,
    contract: Contract,
    *,
    version: int | None = None,
    object_store: ObjectStore | None = None,
    secret: bytes,
    exchange_log: ExchangeLog | None = None,
    subscriptions: Sequence[SubscriptionLike] | None = None,
    targets: TargetResolver | None = None,
    subject_keys: SubjectKeys | None = None,
) -> list[DeliveryResult]:
    """Deliver `contract.resource` up to `version` (default: current) to every granted subscription.

    Args:
        session: the hub metadata session; committed after each delivery step (see module docstring).
        lake: where the curated table lives and file deliveries are written.
        version: the dataset version to deliver up to; None = the table's current version.
        object_store: for file deliveries (default: the lake's own, `ObjectStore.from_lake`).
        secret: hub secret keying the pseudonyms of PII primary keys.
        exchange_log: when given, every done or failed delivery appends a "delivery" event.
        subscriptions: override `granted_subscriptions(session, resource)` (tests, one-off re-sends).
        targets: resolves a database subscription's named target to its checked URL (default:
            `catalog.resolve_target_url` with no reserved stores; `govhub.delivery_runner` passes the
            hub's own stores and the GOVHUB_DELIVERY_TARGETS setting).
        subject_keys: when given, the subjects each version up to `version` touched are indexed first, once
            for every subscriber (`exchange.access.index_changes`: the access record of deliveries).

    Returns one result per delivery attempted or recovered; subscriptions already at `version` get none.
    A failed delivery (unreachable database...) is recorded failed and does not stop the others.
    Runs for the same resource take turns (`delivery_lock`), so each version goes out once.
    """
    if targets is None:
        from catalog.delivery_targets import resolve_target_url

        def targets(sub: SubscriptionLike) -> str:
            return resolve_target_url(session, sub.department_code, sub.target_name)

    with delivery_lock(session, contract.resource):
        return _deliver_resource(
            session,
            lake,
            contract,
            version=version,
            object_store=object_store,
            secret=secret,
            exchange_log=exchange_log,
            subscriptions=subscriptions,
            targets=targets,
            subject_keys=subject_keys,
        )


def _deliver_resource(
    session: Session,
    lake: Lake,
    contract: Contract,
    *,
    version: int | None,
    object_store: ObjectStore | None,
    secret: bytes,
    exchange_log: ExchangeLog | None,
    subscriptions: Sequence[SubscriptionLike] | None,
    targets: TargetResolver,
    subject_keys: SubjectKeys | None = None,
) -> list[DeliveryResult]:
    if subscriptions is None:
        from catalog.subscriptions import granted_subscriptions

        subscriptions = granted_subscriptions(session, contract.resource)
    curated = lake.curated(contract)
    target = curated.version() if version is None else version
    if target is None or not subscriptions:
        return []
    if subject_keys is not None:
        _index_subjects(session, curated, contract, subject_keys, target)
    store = object_store or ObjectStore.from_lake(lake)
    feeds: dict[int, NetFeed] = {}
    results: list[DeliveryResult] = []
    for sub in subscriptions:
        if sub.status != "granted":  # a caller-supplied list may hold revoked ones: they get nothing
            continue
        results.extend(_recover(session, sub, exchange_log, targets))
        last = last_done_version(session, sub.id)
        if last is not None and last >= target:
            continue
        if last is None:  # a snapshot: streamed from the table per subscriber, never held whole
            feed: NetFeed | CuratedTable = curated
        else:
            if last not in feeds:
                changes = curated.changes(after_version=last, to_version=target)
                feeds[last] = net_changes(changes, contract, snapshot=False)
            feed = feeds[last]
        results.append(
            _deliver_one(
                session,
                lake,
                store,
                contract,
                sub,
                feed,
                from_version=last,
                to_version=target,
                secret=secret,
                exchange_log=exchange_log,
                targets=targets,
            )
        )
    return results


def _index_subjects(
    session: Session, curated: CuratedTable, contract: Contract, keys: SubjectKeys, target: int
) -> None:
    """The access record: which subjects the versions about to go out touched, committed before they go.

    A failure here does not hold the deliveries back: it is logged, and the next delivery run (or
    `govhub access-record backfill`) indexes the same versions again from the same mark.
    """
    from exchange.access.index import index_changes

    try:
        index_changes(session, curated, contract, keys=keys, upto=target)
        session.commit()
    except (GovhubError, OSError, pa.ArrowException, sa_exc.SQLAlchemyError):
        session.rollback()
        log.exception("access record: the subjects %s v%s touched could not be indexed", contract.resource, target)


def _record(session: Session, sub: SubscriptionLike, *, from_version: int | None, to_version: int) -> Delivery:
    row = session.scalars(
        select(Delivery).where(Delivery.subscription_id == sub.id, Delivery.to_version == to_version)
    ).one_or_none()
    if row is None:
        row = Delivery(subscription_id=sub.id, to_version=to_version, resource=sub.resource)
        session.add(row)
    row.department_code = sub.department_code
    row.from_version = from_version
    row.mode = sub.delivery_mode
    row.status = "running"
    row.attempts = (row.attempts or 0) + 1
    row.started_at, row.finished_at, row.error = utcnow(), None, None
    return row


def _deliver_one(
    session: Session,
    lake: Lake,
    store: ObjectStore,
    contract: Contract,
    sub: SubscriptionLike,
    feed: NetFeed | CuratedTable,
    *,
    from_version: int | None,
    to_version: int,
    secret: bytes,
    exchange_log: ExchangeLog | None,
    targets: TargetResolver,
) -> DeliveryResult:
    started = time.perf_counter()
    row = _record(session, sub, from_version=from_version, to_version=to_version)
    if isinstance(feed, NetFeed):
        row.rows_inserted, row.rows_updated, row.rows_deleted = feed.inserted, feed.updated, feed.deleted
    else:  # a snapshot is counted as it streams
        row.rows_inserted, row.rows_updated, row.rows_deleted = 0, 0, 0
    session.commit()  # `running` is on record before anything leaves the hub
    link: str | None = None
    try:
        rows: Rows  # a snapshot streams once, straight into its target
        if isinstance(feed, NetFeed):
            rows = delivery_view(feed, contract, sub, secret=secret)
        else:
            rows = snapshot_view(feed, sub, version=to_version, secret=secret)
        if sub.delivery_mode == "file":
            written = write_file(
                rows,
                store=store,
                key=file_key(sub.department_code, sub.resource, from_version, to_version),
                s3=lake.is_s3,
            )
            row.location, row.bytes, row.checksum, link = written.key, written.bytes, written.checksum, written.link
        elif sub.delivery_mode == "database":
            row.location = sub.resource

            def on_record(checksum: str, size: int, count: int) -> None:
                # one pass: counts and checksum go on record after the rows are in the target's open
                # transaction and before it commits, so a crash between the two commits loses nothing
                row.checksum, row.bytes = checksum, size
                if isinstance(rows, SnapshotView):
                    row.rows_inserted = count
                session.commit()

            _write_database_once(
                rows,
                contract,
                sub,
                url=targets(sub),
                from_version=from_version,
                to_version=to_version,
                on_record=on_record,
            )
        elif sub.delivery_mode == "api":
            row.checksum, row.bytes, _ = _checksum(rows)
            after = "" if from_version is None else str(from_version)
            row.location = f"after_version={after}&to_version={to_version}"
            link = f"/api/deliveries/{sub.id}/changes?after_version={after}"
        else:
            raise DeliveryError(
                f"subscription {sub.id} of department {sub.department_code} has unknown delivery mode "
                f"{sub.delivery_mode!r}; expected file, database or api",
                code="bad_mode",
                subscription_id=sub.id,
                department=sub.department_code,
            )
    except (GovhubError, OSError, pa.ArrowException, sa_exc.SQLAlchemyError) as e:
        session.rollback()
        return _finish(session, row, sub, started, exchange_log, error=e)
    if isinstance(rows, SnapshotView):
        row.rows_inserted = rows.rows
    _mark_done(session, row)
    return _finish(session, row, sub, started, exchange_log, link=link)


def _checksum(rows: Rows) -> tuple[str, int, int]:
    """SHA-256 and size of the rows' Arrow IPC stream, batch by batch, and the number of rows."""
    if isinstance(rows, pa.Table):
        return (*table_checksum(rows), rows.num_rows)
    checksum, count = StreamChecksum(rows.schema), 0
    for batch in rows:
        checksum.add(batch)
        count += batch.num_rows
    return (*checksum.finish(), count)


def _write_database_once(
    rows: Rows,
    contract: Contract,
    sub: SubscriptionLike,
    *,
    url: str,
    from_version: int | None,
    to_version: int,
    on_record: Callable[[str, int, int], None],
) -> None:
    """Write the rows unless the target already holds the version; `on_record(checksum, bytes, rows)` either way."""
    where: dict[str, Any] = {
        "subscription_id": sub.id,
        "department": sub.department_code,
        "target_name": sub.target_name or "",
    }
    if target_recorded(url, to_version=to_version, **where):
        log.info("subscription %s: target already holds v%s; not writing again", sub.id, to_version)
        on_record(*_checksum(rows))
        return
    write_database(
        rows,
        url=url,
        resource=sub.resource,
        keys=list(contract.primary_key),
        from_version=from_version,
        to_version=to_version,
        before_commit=on_record,
        **where,
    )


def _mark_done(session: Session, row: Delivery) -> None:
    """The hub's own record that a version arrived (after the target committed it)."""
    row.status, row.finished_at, row.error = "done", utcnow(), None


def _recover(
    session: Session, sub: SubscriptionLike, exchange_log: ExchangeLog | None, targets: TargetResolver
) -> list[DeliveryResult]:
    """Database mode: versions the target recorded but the hub did not (a crash in between) become done."""
    if sub.delivery_mode != "database" or not sub.target_name:
        return []
    last = last_done_version(session, sub.id)
    pending = session.scalars(
        select(Delivery)
        .where(Delivery.subscription_id == sub.id, Delivery.status != "done")
        .where(Delivery.to_version > (last if last is not None else -1))
        .order_by(Delivery.to_version)
    ).all()
    out = []
    for row in pending:
        started = time.perf_counter()
        try:
            held = target_recorded(
                targets(sub),
                subscription_id=sub.id,
                to_version=row.to_version,
                department=sub.department_code,
                target_name=sub.target_name or "",
            )
        except GovhubError:
            return out  # unreachable or refused: the normal path records the failure
        if held:
            log.warning(
                "subscription %s: target holds v%s the hub had not recorded; marking done", sub.id, row.to_version
            )
            _mark_done(session, row)
            out.append(_finish(session, row, sub, started, exchange_log, recovered=True))
    return out


def _finish(
    session: Session,
    row: Delivery,
    sub: SubscriptionLike,
    started: float,
    exchange_log: ExchangeLog | None,
    *,
    error: BaseException | None = None,
    link: str | None = None,
    recovered: bool = False,
) -> DeliveryResult:
    seconds = round(time.perf_counter() - started, 3)
    code = getattr(error, "code", None) or (None if error is None else type(error).__name__)
    masked = tuple(f.name for f in masked_fields(load_contract(sub.resource), sub.fields, pii_access=sub.pii_access))
    if error is not None:
        row = session.merge(row)
        row.status, row.finished_at, row.error = "failed", utcnow(), str(error)[:4000]
        log.error("delivery of %s v%s to %s failed: %s", row.resource, row.to_version, sub.department_code, error)
    result = DeliveryResult(
        subscription_id=sub.id,
        department_code=sub.department_code,
        resource=row.resource,
        mode=row.mode,
        from_version=row.from_version,
        to_version=row.to_version,
        status=row.status,
        rows_inserted=row.rows_inserted or 0,
        rows_updated=row.rows_updated or 0,
        rows_deleted=row.rows_deleted or 0,
        bytes=row.bytes,
        checksum=row.checksum,
        location=row.location,
        link=link,
        error=row.error,
        error_code=code,
        seconds=seconds,
        recovered=recovered,
        masked_fields=masked,
    )
    if exchange_log is not None:
        exchange_log.append(
            "delivery",
            source="govhub",
            target=sub.department_code,
            department=sub.department_code,
            resource=row.resource,
            version=row.to_version,
            rows=result.rows,
            bytes=row.bytes,
            checksum=row.checksum,
            duration_ms=seconds * 1000,
            outcome="ok" if error is None else "failed",
            error_code=code,
            purpose=(sub.purpose or None),
            started_at=row.started_at,
            finished_at=row.finished_at,
            details={
                "subscription_id": sub.id,
                "from_version": row.from_version,
                "mode": row.mode,
                "inserted": result.rows_inserted,
                "updated": result.rows_updated,
                "deleted": result.rows_deleted,
                "location": row.location,
                "recovered": recovered,
                "masked_fields": list(masked),
            },
        )
    session.commit()
    return result


def list_deliveries(
    session: Session, *, department: str | None = None, resource: str | None = None, limit: int = 100
) -> list[Delivery]:
    """Delivery records, newest first, optionally for one department and/or resource."""
    query = select(Delivery).order_by(Delivery.started_at.desc(), Delivery.id.desc()).limit(limit)
    if department is not None:
        query = query.where(Delivery.department_code == department)
    if resource is not None:
        query = query.where(Delivery.resource == resource)
    return list(session.scalars(query))


def deliveries_for_lineage(session: Session, resource: str) -> list[dict[str, Any]]:
    """The resource's deliveries as the catalogue's lineage reads them (resource → deliveries)."""
    return [
        {
            "subscription_id": d.subscription_id,
            "department_code": d.department_code,
            "mode": d.mode,
            "from_version": d.from_version,
            "to_version": d.to_version,
            "status": d.status,
            "rows": d.rows_inserted + d.rows_updated + d.rows_deleted,
            "delivered_at": d.finished_at,
        }
        for d in list_deliveries(session, resource=resource, limit=1000)
    ]
