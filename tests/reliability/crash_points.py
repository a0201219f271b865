"""The dangerous calls of an ingest run and of a delivery run, where a trial may SIGKILL the process.

Each kill point wraps one function or method (where the caller looks it up) and counts its calls;
armed with (point, n) the child kills itself with SIGKILL right before or right after the n-th call.
Unarmed, the same wrappers count the calls of a clean run, so a trial draws n among calls that happen.
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DELIVERY_POINTS", "INGEST_POINTS", "KillPoint", "Tally", "install"]


@dataclass(frozen=True)
class KillPoint:
    """Kill `when` ("before", "after", "during") a call of `owner`.`attr`; `owner` is "module" or "module:Class"."""

    label: str
    owner: str
    attr: str
    when: str

    @property
    def key(self) -> str:
        return f"{self.when}:{self.owner}.{self.attr}"


def _both(label: str, owner: str, attr: str) -> list[KillPoint]:
    return [KillPoint(f"before {label}", owner, attr, "before"), KillPoint(f"after {label}", owner, attr, "after")]


def _all(label: str, owner: str, attr: str) -> list[KillPoint]:
    return [*_both(label, owner, attr), KillPoint(f"during {label}", owner, attr, "during")]


_STAGES = [
    p
    for s in ("begin", "extract", "validate", "publish", "register", "advance")
    for p in _both(f"stage {s}", "govhub.pipeline", s)
]

INGEST_POINTS: list[KillPoint] = [
    *_STAGES,
    KillPoint("during stage extract", "govhub.pipeline", "extract", "during"),
    *_all("a staging write", "lake.staging:StagingArea", "write"),
    KillPoint("while validating a batch", "quality", "validate", "before"),
    *_all("the quarantine write", "lake.quarantine", "write_deltalake"),
    *_both("the quarantine delete", "deltalake:DeltaTable", "delete"),
    *_all("the first Delta load or a run's change append", "lake._commit", "write_deltalake"),
    *_all("the Delta MERGE commit", "deltalake.table:TableMerger", "execute"),
    *_both("the row index write", "lake._row_index", "write_index"),  # after a first load or change commit
    *_both("the catalogue records the version", "govhub.pipeline.stages", "record_version"),
    *_all("the quality suite", "quality", "run_suite"),  # the full GX suite: large increments
    *_all("the dataset suite", "quality", "run_dataset_suite"),  # every smaller increment
    *_both("an exchange-log append", "exchange.log.log:ExchangeLog", "append_many"),
    *_both("a metadata commit", "sqlalchemy.orm:Session", "commit"),
    *_both("the staging clean-up", "lake.staging:StagingArea", "clear"),
    KillPoint("before a lineage event", "govhub.pipeline.stages", "emit_ingest", "before"),
]

DELIVERY_POINTS: list[KillPoint] = [
    KillPoint("after computing the change feed", "exchange.delivery.deliver", "net_changes", "after"),
    *_all("the Parquet write", "exchange.delivery.deliver", "write_file"),
    KillPoint("while a snapshot streams", "exchange.delivery.snapshot", "restrict_and_mask", "after"),
    KillPoint("after the Parquet file is staged locally", "pyarrow.parquet:ParquetWriter", "close", "after"),
    *_all("the upload into the lake", "lake.objects:ObjectStore", "put_file"),
    *_all("the department database write", "exchange.delivery.deliver", "write_database"),
    KillPoint("after asking the department database", "exchange.delivery.deliver", "target_recorded", "after"),
    KillPoint("after marking the delivery done", "exchange.delivery.deliver", "_mark_done", "after"),
    *_both("an exchange-log append", "exchange.log.log:ExchangeLog", "append"),
    *_both("a delivery record commit", "sqlalchemy.orm:Session", "commit"),
    KillPoint("before the lineage events", "govhub.delivery_runner", "emit_deliveries", "before"),
]


def _owner(path: str) -> Any:
    module, _, cls = path.partition(":")
    target = importlib.import_module(module)
    return getattr(target, cls) if cls else target


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Tally:
    """Calls per kill point and the longest call per point (seconds) in this process."""

    calls: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)


def install(points: list[KillPoint], *, arm: tuple[str, int, float] | None = None) -> Tally:
    """Wrap every point's function; returns the live tally (keyed by `KillPoint.key`).

    With `arm=(key, n, delay)` the process kills itself at the n-th call of that point: right before
    or after it, or for "during" `delay` seconds after the call started (from a timer thread, so the
    kill may land inside native code: a Delta commit, a Parquet write). Points sharing a function
    share one wrapper, so their counts agree.
    """
    tally = Tally()
    by_target: dict[tuple[str, str], list[KillPoint]] = {}
    for p in points:
        by_target.setdefault((p.owner, p.attr), []).append(p)
    for (owner_path, attr), group in by_target.items():
        owner = _owner(owner_path)
        original = getattr(owner, attr)
        keys = [p.key for p in group]
        mine = {p.when: p.key for p in group}

        def wrapper(*args: Any, __original=original, __keys=keys, __mine=mine, **kwargs: Any) -> Any:
            for k in __keys:
                tally.calls[k] += 1
            armed = arm is not None and arm[0] in __mine.values() and tally.calls[arm[0]] == arm[1]
            when = next((w for w, k in __mine.items() if armed and k == arm[0]), None)
            if when == "before":
                _die()
            if when == "during":
                timer = threading.Timer(arm[2], _die)
                timer.daemon = True
                timer.start()
            started = time.perf_counter()
            result = __original(*args, **kwargs)
            for k in __keys:
                tally.seconds[k] = max(tally.seconds.get(k, 0.0), time.perf_counter() - started)
            if when == "after":
                _die()
            return result

        functools.update_wrapper(wrapper, original)
        setattr(owner, attr, wrapper)
    return tally
