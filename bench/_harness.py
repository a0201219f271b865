"""Shared helpers for benchmarks: run a case in its own subprocess, measure it, summarise, print a table.

A case is a Python command that prints one JSON object as its last stdout line. The parent measures
the child's wall time and its own peak RSS from `os.wait4` (the child's rusage, `ru_maxrss`, the
same figure `getrusage(RUSAGE_CHILDREN)` aggregates, but per child). The child can add its own
figures (`seconds` of the measured work, `vmhwm_mb`) through `emit`.

Gotcha: on Linux a child's `ru_maxrss` includes the parent's RSS at fork/exec time (exec keeps the
old mm's high-water mark), so keep the parent small: build data in a child case, never in the
parent. `vmhwm_mb()` (VmHWM, reset at exec) is the child's own peak and is reported beside it.
`write_profile` writes a cProfile's heaviest functions the same way for every profiling script.

    from bench._harness import run_case, median, print_table, loadavg
"""

from __future__ import annotations

import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["CaseResult", "emit", "loadavg", "median", "print_table", "run_case", "vmhwm_mb", "write_profile"]


@dataclass
class CaseResult:
    """One subprocess run: wall seconds, peak RSS (MB, from wait4) and the JSON the child printed."""

    wall: float
    rss_mb: float
    data: dict[str, Any] = field(default_factory=dict)
    loadavg: str = ""

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


def run_case(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float | None = None,
) -> CaseResult:
    """Run `argv` (use `sys.executable` first) and return its wall time, peak RSS and last JSON line.

    `env` entries are added to the current environment. Raises RuntimeError with the child's stderr
    tail when it fails or prints no JSON.
    """
    full_env = {**os.environ, **(env or {})}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, env=full_env, cwd=cwd)
        deadline = None if timeout is None else started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG if deadline else 0)
            if pid:
                break
            if time.perf_counter() > deadline:  # type: ignore[operator]
                proc.kill()
                os.wait4(proc.pid, 0)
                raise RuntimeError(f"case {argv} timed out after {timeout} s")
            time.sleep(0.05)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"case {argv} exited {proc.returncode}:\n{stderr[-4000:]}")
    lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"case {argv} printed no JSON result:\n{stdout[-2000:]}\n{stderr[-2000:]}")
    return CaseResult(wall=wall, rss_mb=usage.ru_maxrss / 1024, data=json.loads(lines[-1]), loadavg=loadavg())


def emit(result: Mapping[str, Any]) -> None:
    """Print a child's result as the one JSON line `run_case` reads; adds the child's own VmHWM."""
    sys.stdout.write(json.dumps({**result, "vmhwm_mb": vmhwm_mb()}, default=str) + "\n")
    sys.stdout.flush()


def vmhwm_mb() -> float:
    """This process's peak RSS since exec (VmHWM), in MB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def loadavg() -> str:
    """The 1/5/15-minute load averages (shared machine: quote them with every figure)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def median(values: Iterable[float]) -> float:
    """Median of the values (NaN when there are none)."""
    values = list(values)
    return statistics.median(values) if values else float("nan")


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None) -> None:
    """A plain fixed-width table (also valid Markdown) on stdout."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    if title:
        print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |")


def write_profile(profiler: cProfile.Profile, path: Path, *, top: int = 30) -> None:
    """Write the profile's `top` heaviest functions, by cumulative and then by own time, to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    path.write_text(text.getvalue())


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "-"
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def in_child(fn: Callable[..., Any], *args: Any) -> Any:
    """Run `fn(*args)` in a fresh spawned process (its own peak RSS) and return its result."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)
