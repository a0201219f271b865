"""`make bench`: run the peers, city, verification and delivery suites and rewrite bench/README.md's figures.

Each part runs as a child process (the parent stays small, so children's peak RSS is their own):

  peers     bench.bench_peers: govhub vs raw ADBC→Parquet vs dlt on the same table (its JSON summary)
  city      bench.bench_city --scale S (and --sizes for the RSS-flatness series): the last stdout line's JSON
  verify    bench.bench_verify in a short form (its RESULT-JSON line); PASS/MISS on the durable SM2 row
  delivery  bench.bench_delivery in a short form (its printed lines, parsed)
  yearlog   bench.bench_year_log phase by phase (bench.report_yearlog): monitor pages, alerts, verify, archive

The README keeps everything outside `<!-- bench:begin -->` / `<!-- bench:end -->` (methods, profiles);
between them it gets the machine, the commands and the latest tables, plus the results as JSON in a
comment so a later `--only` run replaces its own part and keeps the others. `--quick` is a smoke run:
small sizes, written to bench/out/ instead of the README.

    .venv/bin/python -m bench [--quick] [--only peers,city,verify,delivery] [--scale 1] [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out"
README = BENCH / "README.md"
CHART = BENCH / "rows_per_second.png"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
DATA_RE = re.compile(r"<!-- bench:data (.*?) -->", re.S)
PARTS = ("peers", "city", "verify", "delivery", "yearlog")
VERSIONS = ("pyarrow", "deltalake", "dlt", "connectorx", "adbc-driver-sqlite", "sqlalchemy", "great-expectations")

# targets of the product requirement for the parts measured here besides peers
VERIFY_TARGET = (2400, 20.0)  # sealed answers/s, p99 ms
DELIVERY_TARGET = 20.0  # full snapshot / incremental delivery

__all__ = ["machine", "main", "parse_delivery", "parse_verify", "render", "rewrite_readme"]


# -- running the parts -------------------------------------------------------------------------------
def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "RUNTIME__DLTHUB_TELEMETRY": "false"}


def _run(argv: list[str], *, timeout: float) -> tuple[int, str, str, float]:
    """Run a child, echo its output as it comes, and return (exit code, stdout, stderr tail, seconds)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write("    " + line)
            sys.stdout.flush()
            lines.append(line)
        stderr = proc.stderr.read() if proc.stderr else ""
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return 124, "".join(lines), f"timed out after {timeout:.0f} s", time.perf_counter() - started
    return code, "".join(lines), stderr[-3000:], time.perf_counter() - started


def _part(status: str, **fields: Any) -> dict[str, Any]:
    return {"status": status, "measured_at": _now(), "loadavg": _loadavg(), **fields}


def _load_range(summary: dict[str, Any]) -> str:
    """The 1-minute load average's range over the peers cases (from the per-run records)."""
    loads = [float(r["loadavg"].split()[0]) for r in summary.get("runs", []) if r.get("loadavg", "?")[0].isdigit()]
    return f"{min(loads):.1f}–{max(loads):.1f}" if loads else "?"


def run_peers(args: argparse.Namespace) -> dict[str, Any]:
    """bench.bench_peers at --rows/--repeat; its JSON summary (without the per-run list)."""
    target = OUT / ("peers-quick.json" if args.quick else "peers.json")
    target.unlink(missing_ok=True)
    argv = [
        sys.executable,
        "-m",
        "bench.bench_peers",
        "--rows",
        str(args.rows),
        "--repeat",
        str(args.repeat),
        "--backends",
        args.backends,
        "--source",
        args.source,
        "--json-out",
        str(target),
    ]
    code, _out, err, seconds = _run(argv, timeout=6 * 3600)
    if code or not target.exists():
        return _part("failed", command=_cmd(argv), error=err or f"exit {code}")
    summary = json.loads(target.read_text())
    summary["load_range"] = _load_range(summary)
    summary.pop("runs", None)
    return _part("ok", command=_cmd(argv), **{**summary, "seconds": seconds})


def run_city(args: argparse.Namespace) -> dict[str, Any]:
    """bench.bench_city at --scale (and its RSS-flatness series), read from the JSON line each prints last."""
    if not (BENCH / "bench_city.py").exists():
        return _part("not run", reason="bench/bench_city.py is not in this tree yet")
    module = [sys.executable, "-m", "bench.bench_city"]
    usage = subprocess.run([*module, "--help"], cwd=ROOT, env=_env(), capture_output=True, text=True).stdout
    calls = [("scale", ["--scale", args.scale])]
    if args.city_series:  # the series flag as the script spells it: --series BASE, or --sizes 1x,2x,4x
        if "--series" in usage:
            calls.append(("series", ["--series", args.city_series]))
        elif "--sizes" in usage:
            calls.append(("series", ["--scale", args.city_series, "--sizes", "1x,2x,4x"]))
    results: dict[str, Any] = {}
    commands = []
    for name, extra in calls:
        argv = [*module, *extra]
        commands.append(_cmd(argv))
        code, out, err, seconds = _run(argv, timeout=6 * 3600)
        found = _last_json(out)
        if found is None or found.get("mode") == "error" or code not in (0, 2):  # 2: ran, counts do not reconcile
            error = (found or {}).get("error") or err or f"exit {code}, no JSON line"
            return _part("failed", command=" ; ".join(commands), error=error, **results)
        found.pop("runs", None)  # a series repeats every run in full: keep its summary
        results[name] = found
        results[f"{name}_seconds"] = seconds
    return _part("ok", command=" ; ".join(commands), **results)


def _run_script(
    argv: list[str], parse: Callable[[str], dict[str, Any]], complete: Callable[[dict[str, Any]], bool], **figures: Any
) -> dict[str, Any]:
    """Run one benchmark script as a child and parse its output into a part (failed when nothing parses)."""
    code, out, err, seconds = _run(argv, timeout=3600)
    if code:
        return _part("failed", command=_cmd(argv), error=err or f"exit {code}")
    parsed = parse(out)
    if not complete(parsed):
        return _part("failed", command=_cmd(argv), error="no result in its output")
    return _part("ok", command=_cmd(argv), seconds=seconds, **figures, **parsed)


def run_verify(args: argparse.Namespace) -> dict[str, Any]:
    """bench.bench_verify with --persons/--seconds (and --baseline when given); its result rows."""
    if shutil.which("wrk") is None:
        return _part("not run", reason="wrk is not installed (apt-get install -y wrk)")
    argv = [
        sys.executable,
        "-m",
        "bench.bench_verify",
        "--persons",
        str(args.verify_persons),
        "--seconds",
        str(args.verify_seconds),
    ]
    if getattr(args, "verify_baseline", None):
        argv += ["--baseline", str(args.verify_baseline)]
    return _run_script(argv, parse_verify, lambda p: bool(p["rows"]), persons=args.verify_persons)


def run_yearlog_part(args: argparse.Namespace) -> dict[str, Any]:
    """bench.bench_year_log's phases at --year-log-events on each of --year-log-dbs."""
    from bench.report_yearlog import run_yearlog

    started = time.perf_counter()
    part = run_yearlog(args.year_log_events, [d for d in args.year_log_dbs.split(",") if d])
    if part["status"] != "ok":
        return _part("failed", command=part.get("command", ""), error=part.get("error", ""))
    return _part("ok", seconds=time.perf_counter() - started, **{k: v for k, v in part.items() if k != "status"})


def run_delivery(args: argparse.Namespace) -> dict[str, Any]:
    """bench.bench_delivery with --rows/--repeat; its lines parsed."""
    argv = [
        sys.executable,
        "-m",
        "bench.bench_delivery",
        "--rows",
        str(args.delivery_rows),
        "--repeat",
        str(args.delivery_repeat),
    ]
    return _run_script(argv, parse_delivery, lambda p: {"incremental_s", "full_s"} <= p.keys(), rows=args.delivery_rows)


_VERIFY_ROW = re.compile(
    r"^(?P<mode>\S+/\S+)\s+(?P<scenario>\w+)\s+(?P<rps>[\d.]+)\s+(?P<answers_s>[\d.]+)\s+(?P<p50>[\d.]+)\s+"
    r"(?P<p99>[\d.]+)\s+(?P<non2xx>\d+)\s+(?P<answers>\d+)\s+(?P<logged>\d+)\s*$",
    re.M,
)


def parse_verify(text: str) -> dict[str, Any]:
    """bench_verify's RESULT-JSON line (rows with code, db, CPU per answer), else its older printed table."""
    marked = [line.split(" ", 1)[1] for line in text.splitlines() if line.startswith("RESULT-JSON ")]
    if marked:
        result = json.loads(marked[-1])
        in_process = ", ".join(f"{k} {v:.3f}" for k, v in result.get("in_process", {}).items())
        return {"rows": result["rows"], "in_process": in_process}
    rows = []
    for m in _VERIFY_ROW.finditer(text):
        row: dict[str, Any] = {"mode": m["mode"], "scenario": m["scenario"]}
        for key in ("rps", "answers_s", "p50", "p99"):
            row[key] = float(m[key])
        for key in ("non2xx", "answers", "logged"):
            row[key] = int(m[key])
        rows.append(row)
    marked = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("in-process:")]
    in_process = marked[-1] if marked else ""
    return {"rows": rows, "in_process": in_process}


_NUM = r"([\d,]+(?:\.\d+)?)"


def parse_delivery(text: str) -> dict[str, Any]:
    """Incremental and full-snapshot seconds, peak RSS and rows from bench_delivery's lines."""
    out: dict[str, Any] = {}
    patterns = {
        "incremental": rf"incremental\s+median\s+{_NUM} s\s+peak RSS\s+{_NUM} MB \({_NUM} rows",
        "full": rf"full snapshot to the same 10\s+{_NUM} s\s+peak RSS\s+{_NUM} MB \({_NUM} rows",
    }
    for name, pattern in patterns.items():
        if m := re.search(pattern, text):
            out[f"{name}_s"], out[f"{name}_rss_mb"] = _float(m[1]), _float(m[2])
            out[f"{name}_rows"] = int(_float(m[3]))
    if m := re.search(r"ratio full / incremental: x([\d.]+)", text):
        out["ratio"] = float(m[1])
    return out


def _float(text: str) -> float:
    return float(text.replace(",", ""))


def _last_json(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def _cmd(argv: Sequence[str]) -> str:
    return " ".join(["python" if a == sys.executable else a for a in argv])


# -- the machine -------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    """Cores, RAM, CPU, OS, Python, library versions, commit and load average of this run."""
    versions = {}
    for name in VERSIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "cores": os.cpu_count(),
        "ram_gib": round(_meminfo_kib("MemTotal") / 1024**2, 1),
        "cpu": _cpu_model(),
        "os": _os_name(),
        "python": platform.python_version(),
        "versions": versions,
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "loadavg_start": _loadavg(),
    }


def _meminfo_kib(key: str) -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


# -- rendering ---------------------------------------------------------------------------------------
def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        if value != value:
            return "–"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def _status(part: dict[str, Any] | None, name: str) -> str | None:
    """A one-line note for a part that has no figures (not run, failed), else None."""
    if part is None:
        return f"_{name}: not run._"
    if part["status"] == "ok":
        return None
    lines = (part.get("reason") or part.get("error") or "?").strip().splitlines() or ["?"]
    why = lines[-1]
    return f"_{name}: {part['status']} ({part.get('measured_at', '?')}) — {why}_"


def render_peers(part: dict[str, Any]) -> str:
    """The peers tables: every case side by side, the row-count check and the targets."""
    nan = float("nan")
    rows = []
    for c in part["cases"]:
        rss = c["rss_mb"]
        rows.append(
            [
                c["case"],
                c["phase"],
                c["rows_read"],
                c["rows_written"],
                c["seconds"],
                c["rows_per_s"],
                c.get("vs_raw", nan),
                c.get("vs_dlt", nan),
                c.get("incremental_ratio", nan),
                c["wall"],
                f"{rss:,.0f}" + (f" ({c['pipeline_vmhwm_mb']:,.0f})" if "pipeline_vmhwm_mb" in c else ""),
            ]
        )
    headers = [
        "case",
        "run",
        "rows read",
        "rows written",
        "work s",
        "rows/s",
        "vs raw",
        "vs dlt best",
        "incr./full",
        "process wall s",
        "peak RSS MB",
    ]
    out = [
        f"Source: {part['rows']:,} simulated persons (12 columns) in {part.get('source', 'sqlite')}; "
        f"1 % change = {part['changed']:,} rows. Imports {_imports_note(part)}. "
        f"Medians of {part.get('repeat', '?')}; measured "
        f"{part['measured_at']}; 1-minute load average {part.get('load_range', '?')} over the cases, "
        f"{part.get('loadavg_end', part['loadavg'])} at the end.",
        "",
        _table(headers, rows),
        "",
    ]
    for f in part.get("failed", []):
        out += [f"**{f['case']} {f['phase']} failed**: {f['error']}", ""]
    reader = next((c.get("reader") for c in part["cases"] if c["case"] == "raw"), None)
    if reader == "connectorx":
        out += ["PostgreSQL's ADBC driver is not installed: raw reads through connectorx (Arrow-native) instead.", ""]
    bad = [c for c in part.get("row_checks", []) if not c["ok"]]
    if bad:
        out.append(
            "Row counts **differ**: "
            + "; ".join(f"{c['case']} {c['phase']} read {c['read']:,}, expected {c['expected']:,}" for c in bad)
            + "."
        )
    else:
        out.append(
            f"Row counts: every side read {part['rows']:,} rows in the full run and "
            f"{part['changed']:,} in the incremental run."
        )
    split = {c["phase"]: c.get("stages") for c in part["cases"] if c["case"] == "govhub"}
    stages, inc = split.get("full"), split.get("incremental")
    if stages:
        names = list(stages)
        out += [
            "",
            "govhub stage seconds (begin is counted in extract):",
            "",
            _table(
                ["run", *names],
                [["full", *(stages[s] for s in names)], *([["incremental", *(inc[s] for s in names)]] if inc else [])],
            ),
        ]
    return "\n".join(out)


def _imports_note(part: dict[str, Any]) -> str:
    if part.get("imports") == "preloaded":
        return "loaded before each clock starts (work time of a warm worker; process wall includes them)"
    return "counted as work (cold processes, `--cold`)"


def render_city(part: dict[str, Any]) -> str:
    """The city run's stages and totals, and the RSS series with its flatness verdict."""
    out = [f"Measured {part['measured_at']} (load {part['loadavg']})."]
    run = part.get("scale")
    if isinstance(run, dict) and isinstance(run.get("stages"), list):
        out += ["", _city_run(run)]
    elif isinstance(run, dict):
        out += ["", _generic(run)]
    series = part.get("series")
    if isinstance(series, dict) and isinstance(series.get("series"), list):
        out += ["", _city_series(series)]
    elif isinstance(series, dict):
        out += ["", _generic(series)]
    return "\n".join(out).rstrip()


def _city_run(run: dict[str, Any]) -> str:
    nan = float("nan")
    sizes, totals = run.get("sizes", {}), run.get("totals", {})
    counted = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in sizes.items() if isinstance(v, int))
    rows = [
        [
            s.get("kind"),
            s.get("resource"),
            s.get("after", "") if s.get("kind") == "delivery" else "",
            s.get("rows"),
            s.get("seconds"),
            s.get("work_seconds"),
            s.get("peak_rss_mb"),
        ]
        for s in run["stages"]
    ]
    out = [
        f"Scale {run.get('scale')}: {counted}.",
        "",
        _table(["stage", "resource", "after", "rows", "wall s", "work s", "peak RSS MB"], rows),
    ]
    if totals:
        counts = "reconcile" if run.get("reconciled") else "**do not reconcile**: " + "; ".join(run.get("problems", []))
        out += [
            "",
            (
                f"Setup {run.get('setup', {}).get('seconds', nan):.1f} s; "
                f"ingests {totals.get('ingest_seconds', nan):.1f} s; "
                f"deliveries {totals.get('delivery_seconds', nan):.1f} s; "
                f"end to end {totals.get('seconds', nan):.1f} s; "
                f"max peak RSS {totals.get('peak_rss_mb', nan):,.0f} MB; counts {counts}."
            ),
        ]
    return "\n".join(out)


def _city_series(series: dict[str, Any]) -> str:
    rows = [[s.get("scale"), s.get("persons"), s.get("seconds"), s.get("max_peak_rss_mb")] for s in series["series"]]
    out = ["Peak RSS as sizes grow:", "", _table(["scale", "persons", "end to end s", "max peak RSS MB"], rows)]
    flat = series.get("flatness") or {}
    if flat:
        limit = flat.get("threshold", 1.25)
        grows = [f"{k} ×{v}" for k, v in flat.get("stage_growth_4x_over_1x", {}).items() if v > limit]
        verdict = f"4×/1× peak RSS {flat.get('ratio_4x_over_1x')}: {flat.get('verdict')}"
        out += ["", verdict + (f"; stages growing: {', '.join(grows)}" if grows else "") + "."]
    return "\n".join(out)


def _generic(data: dict[str, Any]) -> str:
    """Any JSON object: its scalars as a key/value table."""
    return _table(["figure", "value"], [[k, v] for k, v in data.items() if not isinstance(v, dict | list)])


def durable_sm2(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The row the goal is judged on: current code, SQLite store, SM2 seals, log committed first, one subject."""
    for r in rows:
        if (r.get("code", "after"), r.get("db", "sqlite"), r["mode"]) == ("after", "sqlite", "sm2/commit") and r[
            "scenario"
        ] in ("single", "sealed"):
            return r
    return None


def verify_status(row: dict[str, Any]) -> tuple[bool, str]:
    """(passed, figure) of the goal: ≥ 2,400 answers/s, p99 < 20 ms, every answer in the log."""
    logged = row["logged"] >= row["answers"]
    ok = row["answers_s"] >= VERIFY_TARGET[0] and row["p99"] < VERIFY_TARGET[1] and logged
    figure = f"{row['answers_s']:,.0f}/s, p99 {row['p99']:.0f} ms, {row['logged']:,}/{row['answers']:,} in the log"
    return ok, figure


def render_verify(part: dict[str, Any]) -> str:
    """Answers per second, latencies and CPU per answer per mode, with the goal judged on the durable SM2 row."""
    rows = [
        [
            r.get("code", "after"),
            r.get("db", "sqlite"),
            r["mode"],
            r["scenario"],
            r["answers_s"],
            r["p50"],
            r["p99"],
            r["non2xx"],
            r["answers"],
            r["logged"],
            r.get("cpu_ms", "–"),
            r.get("load", ""),
        ]
        for r in part["rows"]
    ]
    headers = [
        "code",
        "store",
        "seal/log",
        "scenario",
        "answers/s",
        "p50 ms",
        "p99 ms",
        "non-2xx",
        "answers",
        "logged",
        "CPU ms/answer",
        "load",
    ]
    out = [
        f"{part['persons']:,} persons in the serving store, {part.get('command', '')}; measured {part['measured_at']} "
        f"(load {part['loadavg']}). In process: {part.get('in_process') or '–'}.",
        "",
        _table(headers, rows),
    ]
    row = durable_sm2(part["rows"])
    if row:
        ok, figure = verify_status(row)
        out += [
            "",
            f"Goal ≥ {VERIFY_TARGET[0]:,} SM2-sealed answers/s, p99 < {VERIFY_TARGET[1]:.0f} ms at 8 "
            f"connections, every answer in the log before it is returned (durable SM2 row): {figure} — "
            f"{_pass(ok)}.",
        ]
    return "\n".join(out)


def render_delivery(part: dict[str, Any]) -> str:
    """Incremental vs full-snapshot delivery to 10 subscribers, with the ≥ 20× target."""
    ratio = part.get("ratio", part["full_s"] / part["incremental_s"])
    rows = [
        ["1 % change to 10 (incremental)", part["incremental_s"], part["incremental_rss_mb"], part["incremental_rows"]],
        ["full snapshot to the same 10", part["full_s"], part["full_rss_mb"], part["full_rows"]],
    ]
    status = "PASS" if ratio >= DELIVERY_TARGET else "MISS"
    return "\n".join(
        [
            f"{part['rows']:,}-row curated table, 10 subscribers (5 file, 5 SQLite; 5 masked); measured "
            f"{part['measured_at']} (load {part['loadavg']}).",
            "",
            _table(["delivery", "seconds", "peak RSS MB", "rows to each"], rows),
            "",
            f"Full / incremental: {ratio:.1f}× (target ≥ {DELIVERY_TARGET:.0f}×) — **{status}**.",
        ]
    )


def render_yearlog_part(part: dict[str, Any]) -> str:
    """The year-log table (bench.report_yearlog)."""
    from bench.report_yearlog import render_yearlog

    return render_yearlog(part)


RENDERERS = {
    "peers": render_peers,
    "city": render_city,
    "verify": render_verify,
    "delivery": render_delivery,
    "yearlog": render_yearlog_part,
}
TITLES = {
    "peers": "govhub vs raw ADBC→Parquet vs dlt — `bench_peers.py`",
    "city": "City scale — `bench_city.py`",
    "verify": "Verification API — `bench_verify.py`",
    "delivery": "Deliveries — `bench_delivery.py`",
    "yearlog": "A year of exchanges: the exchange log and the monitor — `bench_year_log.py`",
}


def render(results: dict[str, Any], *, chart: str | None = None) -> str:
    """The generated README section (without the markers) from the parts' results and the machine."""
    m = results["machine"]
    v = m["versions"]
    out = [
        f"_Generated by `make bench` (`python -m bench`) on {results['generated_at']} from commit "
        f"{m.get('commit') or '?'}{' (with local changes)' if m.get('dirty') else ''}; do not edit between "
        "the markers._",
        "",
        f"**Machine**: {m['cores']} cores ({m['cpu']}), {m['ram_gib']} GiB RAM, {m['os']}, Python {m['python']}; "
        + ", ".join(f"{k} {val}" for k, val in v.items())
        + f". Load average at the start {m['loadavg_start']}, at the end {results.get('loadavg_end', '?')} "
        "(1/5/15 min; the machine is shared, so read ratios rather than seconds).",
        "",
        "**Commands**: " + "; ".join(f"`{c}`" for c in results.get("commands", [])) if results.get("commands") else "",
    ]
    summary = _summary_targets(results["parts"])
    if summary:
        out += ["", "### Targets", "", _table(["part", "target", "measured", "status"], summary)]
    for name in PARTS:
        part = results["parts"].get(name)
        out += ["", f"### {TITLES[name]}", ""]
        note = _status(part, name)
        if note:
            out.append(note)
            continue
        if part.get("carried_over"):
            out += [f"_Carried over from an earlier run ({part['measured_at']}): not re-run this time._", ""]
        out.append(RENDERERS[name](part))
        if name == "peers" and chart:
            out += ["", f"![rows per second]({chart})"]
    return "\n".join(line for line in out).strip() + "\n"


def _summary_targets(parts: dict[str, Any]) -> list[list[Any]]:
    """Every target with a figure in this run: peers' own list, the verification and delivery ones."""
    rows = []
    ok = {name: p for name, p in parts.items() if p and p.get("status") == "ok"}
    if "peers" in ok:
        rows += [["peers", t["target"], t["measured"], f"**{t['status']}**"] for t in ok["peers"].get("targets", [])]
    durable = durable_sm2(ok.get("verify", {}).get("rows", []))
    if durable:
        passed, figure = verify_status(durable)
        rows.append(
            [
                "verify",
                f"≥ {VERIFY_TARGET[0]:,} SM2-sealed answers/s, p99 < {VERIFY_TARGET[1]:.0f} ms, "
                "every answer logged first (durable SM2 row)",
                figure,
                _pass(passed),
            ]
        )
    city = ok.get("city", {}).get("scale", {})
    if isinstance(city.get("totals"), dict):
        t = city["totals"]
        rows.append(
            [
                "city",
                f"end to end < 15 min at scale {city.get('scale')}",
                f"{t.get('seconds', 0):,.0f} s",
                _pass(bool(t.get("under_15_min"))),
            ]
        )
        rows.append(["city", "peak RSS < 2 GB", f"{t.get('peak_rss_mb', 0):,.0f} MB", _pass(bool(t.get("under_2_gb")))])
    flat = ok.get("city", {}).get("series", {}).get("flatness")
    if isinstance(flat, dict):
        rows.append(
            [
                "city",
                "peak RSS flat from 1× to 4× size",
                f"{flat.get('ratio_4x_over_1x')}×",
                _pass(bool(flat.get("flat"))),
            ]
        )
    if "yearlog" in ok:
        from bench.report_yearlog import yearlog_targets

        rows += yearlog_targets(ok["yearlog"])
    if "delivery" in ok:
        d = ok["delivery"]
        ratio = d.get("ratio", d["full_s"] / d["incremental_s"])
        rows.append(
            [
                "delivery",
                f"1 % change to 10 subscribers ≥ {DELIVERY_TARGET:.0f}× faster than full snapshots",
                f"{ratio:.1f}× ({d['rows']:,} rows)",
                _pass(ratio >= DELIVERY_TARGET),
            ]
        )
    return rows


def _pass(ok: bool) -> str:
    return "**PASS**" if ok else "**MISS**"


def rewrite_readme(path: Path, section: str, data: dict[str, Any]) -> None:
    """Replace what lies between the markers (or add the markers at the end) with `section` and its data."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    blob = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).replace("--", "\\u002d\\u002d")
    block = f"{BEGIN}\n<!-- bench:data {blob} -->\n\n{section}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def previous_parts(path: Path) -> dict[str, Any]:
    """The parts' results embedded in the README by the last run (empty when there are none)."""
    if not path.exists():
        return {}
    m = DATA_RE.search(path.read_text())
    if not m:
        return {}
    try:
        return json.loads(m[1]).get("parts", {})
    except json.JSONDecodeError:
        return {}


# -- main --------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The suite's flags; `--quick` picks small sizes for every part unless a size is given."""
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes, a smoke run; writes to bench/out/ only")
    p.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {','.join(PARTS)}")
    p.add_argument("--scale", default=None, help="bench_city --scale (default 1; 0.02 with --quick)")
    p.add_argument(
        "--city-series", default=None, help="base scale of the 1x/2x/4x RSS series (default 0.05; none --quick)"
    )
    p.add_argument("--rows", type=int, default=None, help="peers source rows (default 1,000,000; 10,000 --quick)")
    p.add_argument("--repeat", type=int, default=None, help="peers repetitions (default 3; 1 --quick)")
    p.add_argument("--backends", default="pyarrow,connectorx,sqlalchemy", help="dlt backends for peers")
    p.add_argument("--source", choices=["sqlite", "postgresql"], default="sqlite", help="peers source database")
    p.add_argument("--verify-persons", type=int, default=None, help="default 200,000; 20,000 --quick")
    p.add_argument("--verify-seconds", type=int, default=None, help="default 5; 2 --quick")
    p.add_argument(
        "--verify-output",
        type=Path,
        default=None,
        help="render the verify part from this saved bench_verify output instead of running it",
    )
    p.add_argument(
        "--verify-baseline",
        type=Path,
        default=None,
        help="an older govhub checkout measured first in the same run, as 'before'",
    )
    p.add_argument("--delivery-rows", type=int, default=None, help="default 200,000; 20,000 --quick")
    p.add_argument("--delivery-repeat", type=int, default=None, help="default 1")
    p.add_argument("--year-log-events", type=int, default=None, help="default 1,000,000; 20,000 --quick")
    p.add_argument("--year-log-dbs", default="sqlite", help="comma-separated: sqlite,postgresql")
    p.add_argument(
        "--year-log-results",
        type=Path,
        nargs="+",
        default=None,
        help="render the yearlog part from saved bench_year_log outputs (one file per database and size)",
    )
    p.add_argument("--peers-json", type=Path, help="render this bench_peers --json-out file instead of running peers")
    p.add_argument("--readme", type=Path, default=None, help="the README to rewrite (default bench/README.md)")
    p.add_argument("--no-readme", action="store_true", help="print the section, write no file")
    args = p.parse_args(argv)
    q = args.quick
    defaults = {
        "scale": "0.02" if q else "1",
        "city_series": "" if q else "0.05",
        "rows": 10_000 if q else 1_000_000,
        "repeat": 1 if q else 3,
        "verify_persons": 20_000 if q else 200_000,
        "verify_seconds": 2 if q else 5,
        "delivery_rows": 20_000 if q else 200_000,
        "delivery_repeat": 1,
        "year_log_events": 20_000 if q else 1_000_000,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.parts = [x for x in args.only.split(",") if x]
    if unknown := set(args.parts) - set(PARTS):
        p.error(f"unknown part(s) {sorted(unknown)}: choose from {', '.join(PARTS)}")
    if args.readme is None:
        args.readme = OUT / "README-quick.md" if q else README
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen parts, then rewrite the README section and the chart; exit 1 if a part failed."""
    args = parse_args(argv)
    info = machine()
    OUT.mkdir(parents=True, exist_ok=True)
    print(
        f"govhub bench: parts {', '.join(args.parts)}{' (quick)' if args.quick else ''}; "
        f"{info['cores']} cores, load {info['loadavg_start']}",
        flush=True,
    )
    runners = {
        "peers": run_peers,
        "city": run_city,
        "verify": run_verify,
        "delivery": run_delivery,
        "yearlog": run_yearlog_part,
    }
    parts: dict[str, Any] = {}
    for name in args.parts:
        print(f"\n=== {name}", flush=True)
        if name == "peers" and args.peers_json:
            summary = json.loads(args.peers_json.read_text())
            summary["load_range"] = _load_range(summary)
            summary.pop("runs", None)
            taken = datetime.fromtimestamp(args.peers_json.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
            parts[name] = {"status": "ok", "measured_at": taken, "loadavg": summary.get("loadavg_end", "?"), **summary}
            backends = ",".join(summary.get("backends", []))
            parts[name]["command"] = (
                f"python -m bench.bench_peers --rows {summary['rows']} --repeat {summary.get('repeat', '?')} "
                f"--backends {backends} --source {summary.get('source', 'sqlite')} (rendered with --peers-json)"
            )
        elif name == "verify" and args.verify_output:
            text = args.verify_output.read_text()
            commands = [line.split(" ", 1)[1] for line in text.splitlines() if line.startswith("command: ")]
            taken = datetime.fromtimestamp(args.verify_output.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
            parts[name] = {
                "status": "ok",
                "measured_at": taken,
                "loadavg": "see rows",
                "command": " ; ".join(commands) + " (rendered with --verify-output)",
                "persons": args.verify_persons,
                **parse_verify(text),
            }
        elif name == "yearlog" and args.year_log_results:
            from bench.report_yearlog import load_results

            newest = max(p.stat().st_mtime for p in args.year_log_results)
            parts[name] = {
                "measured_at": datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M UTC"),
                "loadavg": "see the table",
                "command": "python -m bench.bench_year_log --events N --db D --phase <each> (rendered with "
                "--year-log-results)",
                **load_results(args.year_log_results),
            }
        else:
            parts[name] = runners[name](args)
        print(f"=== {name}: {parts[name]['status']}", flush=True)
    for name, part in previous_parts(args.readme).items():
        if name not in parts and part.get("status") == "ok":
            parts[name] = {**part, "carried_over": True}
    chart_path = (OUT / "rows_per_second-quick.png") if args.quick else CHART
    chart_ref = None
    if parts.get("peers", {}).get("status") == "ok":
        from bench.chart import write_chart

        write_chart(parts["peers"], chart_path)
        chart_ref = os.path.relpath(chart_path, args.readme.parent)
        print(f"chart: {chart_path}")
    commands = [
        f"make bench{' ARGS=--quick' if args.quick else ''}",
        *(p["command"] for p in parts.values() if p.get("command") and not p.get("carried_over")),
    ]
    results = {"generated_at": _now(), "machine": info, "loadavg_end": _loadavg(), "parts": parts, "commands": commands}
    section = render(results, chart=chart_ref)
    (OUT / ("results-quick.json" if args.quick else "results.json")).write_text(json.dumps(results, indent=1))
    if args.no_readme:
        print(section)
    else:
        rewrite_readme(args.readme, section, {"parts": parts})
        print(f"wrote {args.readme}")
    failed = [n for n in args.parts if parts[n]["status"] == "failed"]
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
