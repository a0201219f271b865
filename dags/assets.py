"""Airflow Assets govhub publishes: one curated dataset per contract, as module constants.

The ingest DAGs emit an event on `CURATED[resource]` after each run; the delivery, serving and
dependent ingest DAGs schedule on the same objects, so every side names a dataset exactly one way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import Asset

from schemas import load_all

__all__ = ["CURATED", "curated_asset", "nothing_published"]


def curated_asset(resource: str) -> Asset:
    """The Asset of a resource's curated Delta table (name and URI derived from the resource)."""
    return Asset(name=f"govhub.curated.{resource}", uri=f"govhub://curated/{resource}", group="govhub")


CURATED: dict[str, Asset] = {resource: curated_asset(resource) for resource in load_all()}


def nothing_published(context: Mapping[str, Any]) -> bool:
    """True when every event that triggered this DAG run says `version: null` (a run that found nothing new).

    A run started by hand or by the clock (no triggering events), or by any event carrying a version
    or no `version` key at all, has something to do.
    """
    events = [e for evs in (context.get("triggering_asset_events") or {}).values() for e in evs]
    if not events:
        return False
    return all(e.extra and "version" in e.extra and e.extra["version"] is None for e in events)
