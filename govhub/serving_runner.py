"""Refresh the verification serving stores from settings: one resource (DAGs, CLI, demo) or all (web hosts).

A web host keeps its own stores under its GOVHUB_HOME: `ServingFollower` brings them up to the curated
tables' current versions in the lake every few seconds, so hosts share only the lake and the metadata DB.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from typing import Any

from exchange.verify import load_items
from exchange.verify.store import refresh_serving_store
from govhub.pipeline.resources import open_resource
from govhub.settings import get_settings

__all__ = ["ServingFollower", "refresh_all_serving", "refresh_serving", "serves"]

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


def refresh_all_serving() -> dict[str, int | None]:
    """Every served resource's store at its curated table's current version; None where none is published yet."""
    versions: dict[str, int | None] = {}
    for resource in sorted({item.resource for item in load_items().values()}):
        ctx = open_resource(resource)
        if ctx.lake.curated(ctx.contract).version() is None:
            versions[resource] = None
            continue
        versions[resource] = refresh_serving_store(ctx.lake, ctx.contract, home=ctx.settings.resolved_home)
    return versions


class ServingFollower:
    """A daemon thread keeping this host's serving stores at the lake's versions (the web app starts one).

    The processes of one host (uvicorn workers) share `<home>/serving`; a file lock lets one of them
    refresh at a time, the others skip that round. A failed round is logged and tried again next round.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="govhub-serving-follower", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def refresh_once(self) -> dict[str, int | None] | None:
        """One round; None when another process of this host holds the refresh lock."""
        folder = get_settings().resolved_home / "serving"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".refresh.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None
            return refresh_all_serving()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                versions = self.refresh_once()
                log.debug("serving stores at %s", versions)
            except Exception:  # a lake or disk fault must not end the thread: next round tries again
                log.exception("refreshing the serving stores from the lake failed; retrying in %s s", self.interval)
            self._stop.wait(self.interval)
