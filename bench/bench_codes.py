"""Benchmark the vectorised national code validators against a pure-Python per-row loop.

Validates 1,000,000 citizen IDs and 1,000,000 USCCs (10% with one character changed), median
of 5 runs, and the single-value validators over 100,000 rows in the same run (scaled to 1 M).

    .venv/bin/python -m bench.bench_codes [--rows 1000000] [--runs 5]   (from the repo root)
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from quality.codes import (
    REGIONS,
    check_id_number,
    check_id_numbers,
    check_region_codes,
    check_uscc,
    check_usccs,
    id_birth_dates,
    id_genders,
    make_id_number,
    make_uscc,
    valid_id_numbers,
)

TODAY = dt.date(2024, 6, 1)
UNIQUE = 100_000  # distinct valid codes built in Python, then tiled and perturbed in numpy


def _fixed_width(values: np.ndarray) -> pa.Array:
    """An Arrow string array over an (n, width) uint8 matrix."""
    n, width = values.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(values.tobytes())])


def _dataset(make: Callable[[random.Random], str], rows: int, alphabet: bytes, seed: int) -> pa.Array:
    rng = random.Random(seed)
    base = np.frombuffer("".join(make(rng) for _ in range(UNIQUE)).encode(), dtype=np.uint8).reshape(UNIQUE, 18)
    mat = np.tile(base, (rows // UNIQUE + 1, 1))[:rows].copy()
    gen = np.random.default_rng(seed)
    bad = gen.random(rows) < 0.10
    pos = gen.integers(0, 18, bad.sum())
    mat[np.flatnonzero(bad), pos] = np.frombuffer(alphabet, dtype=np.uint8)[gen.integers(0, len(alphabet), bad.sum())]
    return _fixed_width(mat)


def _make_id(rng: random.Random, counties: list[str]) -> str:
    birth = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(30000))
    return make_id_number(rng.choice(counties), birth, rng.randrange(1000))


def _make_uscc(rng: random.Random, counties: list[str]) -> str:
    pair = rng.choice(["11", "12", "51", "52", "91", "91", "91", "92", "93"])
    org = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    return make_uscc(pair[0], pair[1], rng.choice(counties), org)


def _median(func: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline-rows", type=int, default=100_000)
    args = parser.parse_args()

    counties = sorted(c for c, i in REGIONS.items() if i.level == "county" and c.startswith("43"))
    ids = _dataset(lambda r: _make_id(r, counties), args.rows, b"0123456789X", seed=1)
    usccs = _dataset(lambda r: _make_uscc(r, counties), args.rows, b"0123456789ABCDEFGHJKLMNPQRTUWXY", seed=2)
    regions = _fixed_width(np.frombuffer(ids.buffers()[2], dtype=np.uint8).reshape(-1, 18)[:, :6].copy())
    check_id_numbers(ids[:10], today=TODAY)  # warm up lookup tables and compute kernels
    check_usccs(usccs[:10])

    id_list = ids[: args.baseline_rows].to_pylist()
    uscc_list = usccs[: args.baseline_rows].to_pylist()
    scale = args.rows / args.baseline_rows
    loop_id = _median(lambda: [check_id_number(v, today=TODAY) for v in id_list], args.runs) * scale
    loop_uscc = _median(lambda: [check_uscc(v) for v in uscc_list], args.runs) * scale

    cases: list[tuple[str, Callable[[], object], float | None]] = [
        ("check_id_numbers", lambda: check_id_numbers(ids, today=TODAY), loop_id),
        ("valid_id_numbers", lambda: valid_id_numbers(ids, today=TODAY), loop_id),
        ("id_birth_dates", lambda: id_birth_dates(ids), None),
        ("id_genders", lambda: id_genders(ids), None),
        ("check_usccs", lambda: check_usccs(usccs), loop_uscc),
        ("check_region_codes", lambda: check_region_codes(regions), None),
    ]
    bad_ids = 1 - check_id_numbers(ids, today=TODAY).null_count / args.rows
    bad_usccs = 1 - check_usccs(usccs).null_count / args.rows
    print(f"rows {args.rows:,}; median of {args.runs} runs; invalid: IDs {bad_ids:.1%}, USCCs {bad_usccs:.1%}")
    print(f"{'function':<22}{'median s':>10}{'rows/s':>14}{'loop s (scaled)':>17}{'speed-up':>10}")
    print(f"{'per-row loop: IDs':<22}{loop_id:>10.3f}{args.rows / loop_id:>14,.0f}")
    print(f"{'per-row loop: USCCs':<22}{loop_uscc:>10.3f}{args.rows / loop_uscc:>14,.0f}")
    for name, func, baseline in cases:
        seconds = _median(func, args.runs)
        extra = f"{baseline:>17.3f}{baseline / seconds:>9.0f}x" if baseline else ""
        print(f"{name:<22}{seconds:>10.3f}{args.rows / seconds:>14,.0f}{extra}")


if __name__ == "__main__":
    main()
