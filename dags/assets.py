"""Airflow Assets govhub publishes: one curated dataset per contract, as module constants.

The ingest DAGs emit an event on `CURATED[resource]` after each committed version; the delivery
DAG schedules on the same objects, so both sides name a dataset exactly one way.
"""

from __future__ import annotations

from airflow.sdk import Asset

from schemas import load_all

__all__ = ["CURATED", "curated_asset"]


def curated_asset(resource: str) -> Asset:
    """The Asset of a resource's curated Delta table (name and URI derived from the resource)."""
    return Asset(name=f"govhub.curated.{resource}", uri=f"govhub://curated/{resource}", group="govhub")


CURATED: dict[str, Asset] = {resource: curated_asset(resource) for resource in load_all()}
