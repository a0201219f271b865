"""Lineage of a resource: source system -> resource -> dataset versions -> deliveries to departments.

Deliveries belong to `exchange.delivery`, which sits above the catalogue. The catalogue never
imports it: the caller passes the delivery reader (`exchange.delivery.deliveries_for_lineage`).
Without one, lineage lists no deliveries and says so (`deliveries_available: False`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from catalog.resources import Resource, get_resource, release_date
from catalog.versions import list_versions
from core.time import BEIJING
from schemas import load_systems

__all__ = ["DeliveryReader", "lineage"]


class DeliveryReader(Protocol):
    """Reads the deliveries of one resource as plain mappings.

    Each mapping should carry at least `subscription_id`, `department_code`, `version` (or
    `from_version`/`to_version`), `rows`, `delivered_at` and `status`; extra keys pass through.
    """

    def __call__(self, session: Session, resource: str) -> Iterable[Mapping[str, Any]]: ...


def lineage(
    session: Session,
    resource: Resource | str,
    *,
    department: str | None = None,
    deliveries: DeliveryReader | None = None,
) -> dict[str, Any]:
    """The lineage graph of a resource as a JSON-ready dict.

    Args:
        resource: a `Resource`, its code or its contract name.
        department: when given, only deliveries to this department are listed (a using
            department sees its own deliveries; the provider passes None to see all).
        deliveries: reads the resource's deliveries (`exchange.delivery.deliveries_for_lineage`);
            None lists none and sets `deliveries_available` to False.

    Returns a dict with `source` (system, label, provider), `resource`, `versions` (oldest
    first, each with its run and row counts) and `deliveries`, plus `deliveries_available`.
    """
    entry = resource if isinstance(resource, Resource) else get_resource(session, resource)
    system = load_systems().get(entry.source_system, {})
    versions = list_versions(session, entry.resource, newest_first=False)
    rows = [_plain(dict(row)) for row in deliveries(session, entry.resource)] if deliveries else []
    if department is not None:
        rows = [d for d in rows if d.get("department_code") == department]
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
        "deliveries": rows,
        "deliveries_available": deliveries is not None,
    }


def _iso(moment: datetime | None) -> str | None:
    """ISO 8601 in Beijing time (+08:00); a naive moment is UTC, as SQLite hands it back."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(BEIJING).isoformat()


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """Datetimes as ISO text in Beijing time so the dict serialises as JSON anywhere."""
    return {key: _iso(value) if isinstance(value, datetime) else value for key, value in row.items()}
