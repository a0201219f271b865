"""The hub's exchange log: one per metadata store, signed with the hub key, written at every hop."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from exchange.crypto import load_or_create_signer
from exchange.log import ExchangeLog
from exchange.subjects import SubjectKeys
from govhub.db import get_engine
from govhub.settings import get_settings

__all__ = ["hub_log", "hub_subject_keys", "log_run"]


def hub_log(session: Session | None = None) -> ExchangeLog:
    """The exchange log on the metadata store (or inside `session`'s transaction), signed with the hub key."""
    settings = get_settings()
    signer = load_or_create_signer(settings.keys_dir, algorithm=settings.seal_algorithm)
    return ExchangeLog(session or get_engine(), signer=signer, checkpoint_every=settings.log_checkpoint_every)


def hub_subject_keys() -> SubjectKeys:
    """The hub's subject-hash keys (`GOVHUB_SUBJECT_HASH_KEY`, else `<keys>/subject-hash.key`, plus retired keys)."""
    settings = get_settings()
    return SubjectKeys.load(settings.keys_dir, secret=settings.subject_hash_key)


def log_run(session: Session, run: Any, *, system: str, outcome: str) -> None:
    """Ingest, quarantine and publish events of one run, in the caller's transaction.

    The pipeline calls this in the same transaction that advances the watermark (or marks the run
    failed), so the log and the state cannot disagree. A failed run logs one failed ingest event.
    """
    common = {
        "run_id": run.run_id,
        "resource": run.resource,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }
    duration = (run.seconds or 0) * 1000
    if outcome != "ok":
        events = [
            {
                "type": "ingest",
                "source": system,
                "target": "govhub",
                "outcome": "failed",
                "error_code": "run_failed",
                "rows": run.extracted,
                "duration_ms": duration,
                "details": {"error": (run.error or "")[:500], "stage": run.stage},
                **common,
            }
        ]
    else:
        events = [
            {
                "type": "ingest",
                "source": system,
                "target": "govhub",
                "rows": run.extracted,
                "duration_ms": duration,
                "details": {"stage_seconds": run.stage_seconds},
                **common,
            }
        ]
        if run.rejected:
            events.append(
                {
                    "type": "quarantine",
                    "source": "govhub",
                    "target": f"quarantine/{run.resource}",
                    "rows": run.rejected,
                    "details": {"top_reasons": run.top_reasons},
                    **common,
                }
            )
        if run.version is not None:
            events.append(
                {
                    "type": "publish",
                    "source": "govhub",
                    "target": f"curated/{run.resource}",
                    "version": run.version,
                    "rows": run.accepted,
                    **common,
                }
            )
    hub_log(session).append_many(events)
