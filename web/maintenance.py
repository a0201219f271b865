"""The web app's maintenance: every minute, sign unsigned checkpoints, write ended refusal windows,
refresh the exchange rollups, mark corrections past their due date; at shutdown, write every open
refusal window. Reads (the API, the pages, the alerts) only compute overdue; this writes it, once a flag.

Runs in one daemon thread started by the app's lifespan (`GOVHUB_LOG_MAINTENANCE_SECONDS`, 0: off).
Several workers may each run it: checkpoint signing and rollup refreshes lock the rows they move, so
they queue instead of doubling anything.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

__all__ = ["lifespan", "maintain_once"]

log = logging.getLogger(__name__)


def maintain_once(app: FastAPI) -> dict[str, int]:
    """One round: ended refusal windows written, overdue corrections marked, rollups refreshed, boundaries
    signed (after a check)."""
    from exchange.log import catch_up_checkpoints, refresh_rollups
    from govhub.corrections import overdue_round
    from govhub.db import get_engine
    from govhub.exchange_log import hub_log
    from web.refusals import refusal_window

    done = {"refusal_events": refusal_window(app).flush()}
    done["corrections_overdue"] = overdue_round()
    done["rolled_up"] = refresh_rollups(get_engine())
    report, signed = catch_up_checkpoints(hub_log())
    done["checkpoints_signed"] = signed
    if not report.ok:
        log.error("exchange log check failed, no checkpoint signed: %s", report.detail)
    return done


def _loop(app: FastAPI, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        try:
            maintain_once(app)
        except Exception:  # the next round retries; the pages still check on their own
            log.exception("exchange-log maintenance round failed")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the maintenance thread; at shutdown stop it and write the open refusal windows."""
    from govhub.settings import get_settings
    from web.refusals import refusal_window

    every = get_settings().log_maintenance_seconds
    stop = threading.Event()
    thread = None
    if every > 0:
        thread = threading.Thread(target=_loop, args=(app, every, stop), name="log-maintenance", daemon=True)
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=30)
        refusal_window(app).flush(everything=True)
