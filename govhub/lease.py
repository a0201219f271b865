"""Keeping a resource's lock alive through one long step, and fencing the step's commit on it.

An ingest stage (a province-size extract or publish) and a compaction (a MERGE of a province-size
table) can each outlast `GOVHUB_LOCK_LEASE_SECONDS`, so while one runs `LeaseKeeper` calls the lock's
`heartbeat` from a background thread every third of the lease. Should the holder lose
the lock all the same (its process stalled past the lease and another worker took over), `check` —
the fence, called right before a Delta commit — raises `LeaseLost`, and the holder stops without
writing: the worker that took over owns the table now. A holder that stalls after the fence, inside
delta-rs, is stopped by the commit itself: it lands only on the table version it was decided against
(`lake/_guard.py`), so it is refused when the new holder committed meanwhile.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from core.db import session_scope
from govhub.pipeline.runs import heartbeat
from schemas import StateError

__all__ = ["LeaseKeeper", "LeaseLost"]

log = logging.getLogger(__name__)


class LeaseLost(StateError):
    """The holder's lock was taken over by another worker while it ran; it must not commit."""


class LeaseKeeper:
    """Refresh `holder`'s lock of `resource` every `lease_seconds / 3` until the `with` block ends.

    The holder must already hold the lock (`acquire_lock`). A refresh that finds the lock held by
    someone else marks the lease lost and stops refreshing; `check()` then raises `LeaseLost`. A
    refresh that fails for another reason (the metadata database briefly away) is retried on the next
    tick: the lease is lost only when another worker actually holds the lock.
    """

    def __init__(self, resource: str, holder: str, *, lease_seconds: float) -> None:
        self.resource = resource
        self.holder = holder
        self.interval = max(lease_seconds / 3, 0.05)
        self._stop = threading.Event()
        self._lost: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"lease-{holder}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop refreshing (before the holder releases the lock itself, so no refresh finds it gone)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def lost(self) -> str | None:
        """Why the lease was lost (the refusal's message), or None while it is held."""
        return self._lost

    def refresh(self) -> None:
        """Refresh the lock now; raises `LeaseLost` when another worker holds it."""
        if self._lost is not None:
            raise LeaseLost(self._lost)
        try:
            with session_scope() as session:
                heartbeat(session, self.resource, self.holder)
        except StateError as e:
            self._lost = f"{e} Nothing was committed; the worker holding the lock now owns '{self.resource}'."
            raise LeaseLost(self._lost) from e

    def check(self) -> None:
        """The fence before a commit: refresh the lock, raising `LeaseLost` if it was taken over."""
        self.refresh()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.refresh()
            except LeaseLost:
                log.error("lease of %s lost by %s: %s", self.resource, self.holder, self._lost)
                return
            except Exception:  # a transient database error: the next tick retries
                log.warning("could not refresh the lock of %s for %s", self.resource, self.holder, exc_info=True)
