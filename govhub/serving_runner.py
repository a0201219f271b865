"""Refresh a resource's verification serving store from settings (DAGs, CLI and demo call this)."""

from __future__ import annotations

from typing import Any

from exchange.verify import load_items
from exchange.verify.store import refresh_serving_store
from govhub.pipeline.resources import open_resource

__all__ = ["refresh_serving", "serves"]


def serves(resource: str) -> bool:
    """True when some verification item reads this resource (only those have a serving store)."""
    return any(item.resource == resource for item in load_items().values())


def refresh_serving(resource: str) -> dict[str, Any]:
    """Rebuild the serving store of `resource` at the curated table's current version (no-op if current)."""
    if not serves(resource):
        return {"resource": resource, "version": None, "serving": False}
    ctx = open_resource(resource)
    version = refresh_serving_store(ctx.lake, ctx.contract, home=ctx.settings.resolved_home)
    return {"resource": resource, "version": version, "serving": True}
