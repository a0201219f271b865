"""Refresh a resource's verification serving store from settings (DAGs, CLI and demo call this)."""

from __future__ import annotations

import logging
from typing import Any

from exchange.verify import load_items
from exchange.verify.store import refresh_serving_store
from govhub.pipeline.resources import open_resource

__all__ = ["refresh_serving", "serves"]

log = logging.getLogger(__name__)


def serves(resource: str) -> bool:
    """True when some verification item reads this resource (only those have a serving store)."""
    return any(item.resource == resource for item in load_items().values())


def refresh_serving(resource: str) -> dict[str, Any]:
    """Rebuild the serving store of `resource` at the curated table's current version (no-op if current).

    A resource with no published version yet has no store to build: nothing to do, not an error.
    """
    if not serves(resource):
        return {"resource": resource, "version": None, "serving": False}
    ctx = open_resource(resource)
    if ctx.curated.version() is None:
        log.info("serve %s: no published version yet; nothing to do", resource)
        return {"resource": resource, "version": None, "serving": True, "skipped": "no version yet"}
    version = refresh_serving_store(ctx.lake, ctx.contract, home=ctx.settings.resolved_home)
    return {"resource": resource, "version": version, "serving": True}
