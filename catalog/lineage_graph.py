"""Lineage of a resource: source system -> resource -> dataset versions -> deliveries to departments.

Deliveries belong to `exchange.delivery`, which sits above the catalogue. The catalogue never
imports it: the delivery room registers a reader here (`register_delivery_reader`), or exposes
`exchange.delivery.deliveries_for_lineage(session, resource)`, which lineage picks up by an
optional import. Without either, lineage lists no deliveries and says so
(`deliveries_available: False`).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from catalog.resources import Resource, get_resource, release_date
from catalog.versions import list_versions
from catalog.workdays import BEIJING
from schemas import load_systems

__all__ = ["DeliveryReader", "lineage", "register_delivery_reader"]

log = logging.getLogger(__name__)

_DELIVERY_MODULE = "exchange.delivery"
_READER_NAME = "deliveries_for_lineage"  # found in the module when it did not register itself


class DeliveryReader(Protocol):
    """Reads the deliveries of one resource as plain mappings.

    Each mapping should carry at least `subscription_id`, `department_code`, `version` (or
    `from_version`/`to_version`), `rows`, `delivered_at` and `status`; extra keys pass through.
    """

    def __call__(self, session: Session, resource: str) -> Iterable[Mapping[str, Any]]: ...


_readers: list[DeliveryReader] = []


def register_delivery_reader(reader: DeliveryReader) -> None:
    """Let lineage show deliveries; called by the delivery room at import (idempotent)."""
    if reader not in _readers:
        _readers.append(reader)


def lineage(session: Session, resource: Resource | str, *, department: str | None = None) -> dict[str, Any]:
    """The lineage graph of a resource as a JSON-ready dict.

    Args:
        resource: a `Resource`, its code or its contract name.
        department: when given, only deliveries to this department are listed (a using
            department sees its own deliveries; the provider passes None to see all).

    Returns a dict with `source` (system, label, provider), `resource`, `versions` (oldest
    first, each with its run and row counts) and `deliveries`, plus `deliveries_available`.
    """
    entry = resource if isinstance(resource, Resource) else get_resource(session, resource)
    system = load_systems().get(entry.source_system, {})
    versions = list_versions(session, entry.resource, newest_first=False)
    deliveries, available = _deliveries(session, entry.resource)
    if department is not None:
        deliveries = [d for d in deliveries if d.get("department_code") == department]
    released = release_date(session, entry)
    return {
        "source": {
            "system": entry.source_system,
            "label": system.get("label", ""),
            "label_en": system.get("label_en", ""),
            "kind": system.get("kind", ""),
            "provider_code": entry.provider_code,
            "provider_name": entry.provider_name,
        },
        "resource": {
            "code": entry.code,
            "resource": entry.resource,
            "name": entry.name,
            "name_en": entry.name_en,
            "release_date": _iso(released),
        },
        "versions": [
            {
                "version": v.version,
                "committed_at": _iso(v.committed_at),
                "run_id": v.run_id,
                "rows_total": v.rows_total,
                "rows_inserted": v.rows_inserted,
                "rows_updated": v.rows_updated,
                "rows_deleted": v.rows_deleted,
                "schema_fingerprint": v.schema_fingerprint,
            }
            for v in versions
        ],
        "deliveries": deliveries,
        "deliveries_available": available,
    }


def _deliveries(session: Session, resource: str) -> tuple[list[dict[str, Any]], bool]:
    if not _readers:
        try:  # the delivery room registers its reader when imported; it may not be installed
            module = importlib.import_module(_DELIVERY_MODULE)
        except ModuleNotFoundError as e:
            if e.name is None or not _DELIVERY_MODULE.startswith(e.name):
                raise
            log.debug("no %s module: lineage lists no deliveries", _DELIVERY_MODULE)
        else:
            reader = getattr(module, _READER_NAME, None)
            if callable(reader):
                register_delivery_reader(reader)
    if not _readers:
        return [], False
    rows: list[dict[str, Any]] = []
    for reader in _readers:
        rows.extend(_plain(dict(row)) for row in reader(session, resource))
    return rows, True


def _iso(moment: datetime | None) -> str | None:
    """ISO 8601 in Beijing time (+08:00); a naive moment is UTC, as SQLite hands it back."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(BEIJING).isoformat()


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """Datetimes as ISO text in Beijing time so the dict serialises as JSON anywhere."""
    return {key: _iso(value) if isinstance(value, datetime) else value for key, value in row.items()}
