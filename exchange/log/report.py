"""What a chain walk found (`ChainReport`) and its one-paragraph text for the CLI and the monitor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["ChainReport", "Problem", "format_report"]

Problem = Literal["changed", "removed", "reordered", "inserted", "bad_checkpoint_signature", "checkpoint_mismatch"]


@dataclass(frozen=True)
class ChainReport:
    """What `verify` found. `first_bad_seq`/`first_bad_event_id` name the first present event at fault
    (for "removed": the first event after the gap; `missing_seqs` is the gap, inclusive)."""

    ok: bool
    events_checked: int
    checkpoints_checked: int
    archives_checked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head_hash: str | None = None
    problem: Problem | None = None
    first_bad_seq: int | None = None
    first_bad_event_id: str | None = None
    missing_seqs: tuple[int, int] | None = None
    bad_checkpoint_ids: tuple[int, ...] = ()
    detail: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    unsigned_tail: int = 0
    """Events after the newest valid signed checkpoint the walk reached: protected by the head row only."""
    newest_checkpoint_id: int | None = None
    newest_checkpoint_seq: int | None = None


_ADVICE = {
    "bad_checkpoint_signature": "Check which key signed them and restore the checkpoint table from backup.",
    "checkpoint_mismatch": "Compare with the latest backup or archive to find the rewritten events.",
    "changed": "Compare that event with the latest backup or archive and review who wrote to the exchange_event table.",
}


def _tail_advice(report: ChainReport) -> str:
    return " (run `govhub log checkpoint` to sign them)" if report.unsigned_tail else ""


def format_report(report: ChainReport) -> str:
    """One paragraph for `govhub log verify` and the monitor."""
    span = f"seq {report.first_seq}–{report.last_seq}" if report.first_seq is not None else "no events"
    archives = f", {report.archives_checked} archive file(s) re-read" if report.archives_checked else ""
    notes = f" Note: {'; '.join(report.notes)}." if report.notes else ""
    if report.ok:
        head = f", head hash {report.head_hash[:16]}…" if report.head_hash else ""
        return (
            f"Exchange log intact: {report.events_checked} event(s) verified ({span}{head}){archives}; "
            f"{report.checkpoints_checked} signed checkpoint(s) valid. Every hash and link recomputed "
            f"and matched. Unsigned tail: {report.unsigned_tail} event(s) after the newest signed checkpoint"
            f"{_tail_advice(report)}.{notes}"
        )
    advice = _ADVICE.get(report.problem or "", _ADVICE["changed"])
    return (
        f"Exchange log TAMPERED ({report.problem}): {report.detail}. {report.events_checked} event(s) before "
        f"it verified ({span}){archives}; {report.checkpoints_checked} checkpoint(s) checked"
        f"{', bad: ' + ', '.join(map(str, report.bad_checkpoint_ids)) if report.bad_checkpoint_ids else ''}. "
        f"{advice}{notes}"
    )
