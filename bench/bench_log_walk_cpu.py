"""CPU an event costs the PostgreSQL log walk, client and server, COPY + Arrow against SQL rendering.

    python -m bench.bench_log_walk_cpu --url postgresql://postgres@127.0.0.1:5432/<a year-log database> \
        --events 250000 --rounds 2

One span walked in this process, the two ways alternately on one connection each: this process's CPU
(`getrusage`) and its server backend's (`/proc/<pid>/stat`, so the server must run on this machine).
CPU per event does not depend on the load the way a wall rate does (the machine is shared). Prints
one JSON object as its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from pathlib import Path
from typing import Any


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def walk_once(url: str, mode: str, lo: int, hi: int) -> dict[str, Any]:
    """One span lo < seq <= hi, `mode` "copy" or "sql"; CPU µs per event on each side and the wall rate."""
    import psycopg

    from core.chaincopy import copy_batches
    from core.chainwalk import walk_rows, walk_span
    from exchange.log._walker import BATCH, COPY_SPEC, statements

    with psycopg.connect(url) as connection:
        pid = connection.info.backend_pid
        own, server, started = _own_cpu(), _server_cpu(pid), time.perf_counter()
        if mode == "copy":
            span = walk_rows(copy_batches(connection, COPY_SPEC, lo, hi, BATCH), lo, hi)
        else:

            def fetch(sql: str, params: tuple[int, int]) -> Any:
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    return cursor.fetchall()

            span = walk_span(fetch, statements("postgresql"), lo, hi)
        wall = time.perf_counter() - started
        client_us = (_own_cpu() - own) / span.events * 1e6
        server_us = (_server_cpu(pid) - server) / span.events * 1e6
    assert not span.suspects, f"{mode}: {len(span.suspects)} suspects in an intact log"
    return {
        "mode": mode,
        "events": span.events,
        "client_us": round(client_us, 2),
        "server_us": round(server_us, 2),
        "total_us": round(client_us + server_us, 2),
        "events_per_s": round(span.events / wall),
        "load_1min": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="a psycopg URL of a database holding a year log")
    parser.add_argument("--start", type=int, default=0, help="walk seqs after this one")
    parser.add_argument("--events", type=int, default=250_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    runs = [
        walk_once(args.url, mode, args.start, args.start + args.events)
        for _ in range(args.rounds)
        for mode in ("copy", "sql")
    ]
    for run in runs:
        print(run)
    summary: dict[str, Any] = {"runs": runs}
    for mode in ("copy", "sql"):
        mine = [r for r in runs if r["mode"] == mode]
        for key in ("client_us", "server_us", "total_us"):
            summary[f"{mode}_{key}"] = round(statistics.median(r[key] for r in mine), 2)
    summary["total_cpu_ratio"] = round(summary["sql_total_us"] / summary["copy_total_us"], 2)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
