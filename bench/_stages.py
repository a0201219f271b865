"""The person pipeline run stage by stage in this process, each stage timed and, if asked, under cProfile.

The profiling scripts (`profile_full_load`, `profile_incremental`) share this loop so that their
figures are taken the same way: wall seconds (`time.perf_counter`) and process CPU seconds (all
threads, `time.process_time`) around each stage call, nothing else inside the clock.
"""

from __future__ import annotations

import cProfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench._harness import write_profile

__all__ = ["StageTime", "timed_stages"]


@dataclass(frozen=True)
class StageTime:
    """One stage's wall and CPU seconds, and the run it belongs to (set by `begin`)."""

    stage: str
    wall: float
    cpu: float
    run_id: str


def timed_stages(
    stages: Iterable[str], *, profile: bool, cpu: bool, profile_file: Callable[[str], Path]
) -> Iterator[StageTime]:
    """Run `stages` of one person run in order (`begin` first), yielding each stage's times as it ends.

    With `profile`, each stage runs under cProfile (timed on process CPU when `cpu`, else on wall) and
    its profile is written to `profile_file(stage)` after the caller has taken the stage's figures,
    so that what the caller reads then (memory, say) is the stage's own.
    """
    from govhub import pipeline

    run_id = ""
    for stage in stages:
        profiler = (cProfile.Profile(time.process_time) if cpu else cProfile.Profile()) if profile else None
        wall, cpu_s = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        if stage == "begin":
            run_id = pipeline.begin("person", orchestrator="bench")
        else:
            getattr(pipeline, stage)(run_id)
        if profiler:
            profiler.disable()
        yield StageTime(stage, time.perf_counter() - wall, time.process_time() - cpu_s, run_id)
        if profiler:
            write_profile(profiler, profile_file(stage))
