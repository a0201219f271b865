"""GB/T 36344-2018 scorecards: six quality dimensions, mergeable across batches and runs.

Scores are in [0, 1] (None when nothing was measured):
- 规范性 conformance, 完整性 completeness, 准确性 accuracy, 一致性 consistency: the share of
  check evaluations that passed (each rule on each row where it applied counts once);
- 时效性 timeliness: whether the hub kept up with the contract's update cycle, on the same clock as
  the monitor's freshness (及时 / 已超期, `govhub.status`): the time from the previous successful read
  (`previous_read`) to this one (`as_of`) against the cycle: 1.0 within one cycle, then cycle/gap
  (two cycles late scores 0.5); a first read scores 1.0; None when the contract has no fixed cycle.
  The age of the newest source change (`latest_cursor`) is reported beside it, not scored: a registry
  that changed nothing for months is current, not late (scoring that age read 1/277 ≈ 0.004 on data
  last changed 277 days before while the overview rightly said 及时);
- 可访问性 accessibility: the share of reads that read the source completely (the caller says).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow.compute as pc

from schemas import Contract, QualityError

if TYPE_CHECKING:
    from quality.verdict import Findings, Verdict

__all__ = ["CHECK_DIMENSIONS", "DIMENSIONS", "Scorecard"]

DIMENSIONS: dict[str, tuple[str, str]] = {
    "conformance": ("规范性", "Conformance"),
    "completeness": ("完整性", "Completeness"),
    "accuracy": ("准确性", "Accuracy"),
    "consistency": ("一致性", "Consistency"),
    "timeliness": ("时效性", "Timeliness"),
    "accessibility": ("可访问性", "Accessibility"),
}
CHECK_DIMENSIONS = ("conformance", "completeness", "accuracy", "consistency")


@dataclass(frozen=True)
class Scorecard:
    """Counts behind the six dimension scores of one resource; `merge` adds two scorecards up."""

    resource: str
    rows: int = 0
    evaluated: Mapping[str, int] = field(default_factory=dict)
    failed: Mapping[str, int] = field(default_factory=dict)
    latest_cursor: dt.datetime | None = None  # newest cursor value seen (UTC), reported only
    cycle_days: int | None = None
    as_of: dt.datetime | None = None  # when the source was read and timeliness is judged (UTC)
    previous_read: dt.datetime | None = None  # the previous successful read of the source (UTC); None: first
    reads: int = 0
    complete_reads: int = 0

    @classmethod
    def from_findings(
        cls,
        findings: Findings,
        contract: Contract,
        *,
        rows: int,
        accessible: bool,
        latest_cursor: dt.datetime | None = None,
        as_of: dt.datetime | None = None,
        previous_read: dt.datetime | None = None,
    ) -> Scorecard:
        """A scorecard from one batch's findings; `accessible` says the source was read completely."""
        unknown = set(findings.evaluated) - set(CHECK_DIMENSIONS)
        if unknown:
            raise QualityError(f"{contract.resource}: findings use unknown dimension(s) {sorted(unknown)}")
        return cls(
            resource=contract.resource,
            rows=rows,
            evaluated=dict(findings.evaluated),
            failed=dict(findings.failures),
            latest_cursor=_utc(latest_cursor),
            cycle_days=contract.update_cycle_days,
            as_of=_utc(as_of or dt.datetime.now(dt.UTC)),
            previous_read=_utc(previous_read),
            reads=1,
            complete_reads=1 if accessible else 0,
        )

    @classmethod
    def from_verdict(
        cls,
        verdict: Verdict,
        contract: Contract,
        *,
        accessible: bool,
        as_of: dt.datetime | None = None,
        previous_read: dt.datetime | None = None,
    ) -> Scorecard:
        """A scorecard from a verdict; the newest cursor value is read from the accepted rows."""
        latest = None
        cursor = contract.source.cursor
        if cursor and verdict.accepted.num_rows:
            value = pc.max(verdict.accepted.column(cursor)).as_py()
            if isinstance(value, dt.datetime):
                latest = value
            elif isinstance(value, dt.date):
                latest = dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
        return cls.from_findings(
            verdict.findings,
            contract,
            rows=verdict.counts["rows"],
            accessible=accessible,
            latest_cursor=latest,
            as_of=as_of,
            previous_read=previous_read,
        )

    def score(self, dimension: str) -> float | None:
        """The dimension's score in [0, 1], or None when it was not measured."""
        if dimension in CHECK_DIMENSIONS:
            total = self.evaluated.get(dimension, 0)
            return None if total == 0 else round(1.0 - self.failed.get(dimension, 0) / total, 6)
        if dimension == "timeliness":
            if self.cycle_days is None or self.as_of is None:
                return None
            if self.previous_read is None:
                return 1.0
            gap_days = (self.as_of - self.previous_read).total_seconds() / 86400
            return 1.0 if gap_days <= self.cycle_days else round(self.cycle_days / gap_days, 6)
        if dimension == "accessibility":
            return None if self.reads == 0 else round(self.complete_reads / self.reads, 6)
        raise KeyError(f"unknown dimension {dimension!r}; known: {list(DIMENSIONS)}")

    @property
    def cursor_age_days(self) -> float | None:
        """Days from the newest source change to the read (information: how long the source changed nothing)."""
        if self.latest_cursor is None or self.as_of is None:
            return None
        return round((self.as_of - self.latest_cursor).total_seconds() / 86400, 3)

    @property
    def scores(self) -> dict[str, float | None]:
        return {d: self.score(d) for d in DIMENSIONS}

    def merge(self, other: Scorecard) -> Scorecard:
        """Add another batch's (or run's) scorecard of the same resource."""
        if other.resource != self.resource:
            raise QualityError(f"cannot merge scorecards of '{self.resource}' and '{other.resource}'")
        dims = set(self.evaluated) | set(other.evaluated)
        return Scorecard(
            resource=self.resource,
            rows=self.rows + other.rows,
            evaluated={d: self.evaluated.get(d, 0) + other.evaluated.get(d, 0) for d in sorted(dims)},
            failed={d: self.failed.get(d, 0) + other.failed.get(d, 0) for d in sorted(dims)},
            latest_cursor=_latest(self.latest_cursor, other.latest_cursor),
            cycle_days=self.cycle_days if self.cycle_days is not None else other.cycle_days,
            as_of=_latest(self.as_of, other.as_of),
            previous_read=_earliest(self.previous_read, other.previous_read),
            reads=self.reads + other.reads,
            complete_reads=self.complete_reads + other.complete_reads,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the scores with Chinese and English labels, and the counts behind them."""
        return {
            "resource": self.resource,
            "rows": self.rows,
            "dimensions": [
                {
                    "dimension": d,
                    "label": zh,
                    "label_en": en,
                    "score": self.score(d),
                    "evaluated": self.evaluated.get(d),
                    "failed": self.failed.get(d),
                }
                for d, (zh, en) in DIMENSIONS.items()
            ],
            "latest_cursor": _iso(self.latest_cursor),
            "cursor_age_days": self.cursor_age_days,
            "cycle_days": self.cycle_days,
            "as_of": _iso(self.as_of),
            "previous_read": _iso(self.previous_read),
            "reads": self.reads,
            "complete_reads": self.complete_reads,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scorecard:
        """Rebuild a scorecard from `to_dict()` output (e.g. read back from the metadata store)."""
        dims = [d for d in data["dimensions"] if d["dimension"] in CHECK_DIMENSIONS and d["evaluated"] is not None]
        return cls(
            resource=data["resource"],
            rows=int(data["rows"]),
            evaluated={d["dimension"]: int(d["evaluated"]) for d in dims},
            failed={d["dimension"]: int(d["failed"] or 0) for d in dims},
            latest_cursor=_parse(data.get("latest_cursor")),
            cycle_days=data.get("cycle_days"),
            as_of=_parse(data.get("as_of")),
            previous_read=_parse(data.get("previous_read")),
            reads=int(data.get("reads", 0)),
            complete_reads=int(data.get("complete_reads", 0)),
        )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise QualityError(f"scorecard times must be timezone-aware, got naive {value!r}")
    return value.astimezone(dt.UTC)


def _latest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return max((x for x in (a, b) if x is not None), default=None)


def _earliest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return min((x for x in (a, b) if x is not None), default=None)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value)
