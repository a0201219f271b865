"""City scale: Yiyang's four sources through the hub — full ingests, a 1 % day, incremental ingests, deliveries.

At `--scale 1.0`: 4,000,000 persons, 300,000 legal entities, 1,000,000 credit records (served by the
credit platform simulator over HTTP) and 10,000,000 payments (100 daily GBK settlement files). The run:

  build         the simulated sources (source time: reported apart, not the hub's)
  setup         hub migrations, Yiyang's departments, ten granted subscriptions
  full          `run_ingest` of each resource in dependency order, then its deliveries (snapshots)
  tick          one working day at every source: 1 % of each registry, credit and payments (source time)
  incremental   `run_ingest` again for each resource, then the deliveries of the change to the ten

Every ingest and delivery runs in its own child process (`bench._harness.run_case`), so its peak RSS
is its own; the parent only orchestrates. Targets: end to end (setup + ingests + deliveries) under
15 minutes at the city's size, peak RSS under 2 GB and flat as sizes grow (`--series BASE`: 1x, 2x,
4x of BASE). Prints a table, then as its last stdout line one JSON object:

  run     {"mode": "run", "isolation", "scale", "seed", "sizes": {person, legal_entity, credit_record,
          payment, payment_rows, payment_files}, "generation": {"seconds", "build_seconds", "tick_seconds",
          "build_by_part", "tick_changes", "peak_rss_mb"}, "setup": {"seconds", "peak_rss_mb", "subscriptions"},
          "stages": [{"stage", "resource", "kind": full|incremental|delivery, "after", "seconds", "work_seconds",
          "rows", "peak_rss_mb", ...}], "totals": {"seconds", "ingest_seconds", "delivery_seconds",
          "peak_rss_mb", "under_15_min", "under_2_gb"}, "reconciled", "problems", "loadavg"}
  series  {"mode": "series", "base_scale", "runs": [run, run, run], "series": [{"scale", "persons", "seconds",
          "max_peak_rss_mb"}], "flatness": {"max_peak_rss_mb", "ratio_4x_over_1x", "flat", "verdict",
          "stage_growth_4x_over_1x"}, "reconciled"}
  error   {"mode": "error", "error"} (exit 1); counts that do not reconcile exit 2.

    python -m bench.bench_city --scale 0.05          # a smoke run (200,000 persons)
    python -m bench.bench_city --series 0.025        # 0.025, 0.05, 0.1: RSS flatness
    python -m bench.bench_city --scale 1.0 --workdir /big/disk --keep
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._harness import CaseResult, emit, loadavg, print_table, run_case  # noqa: E402

TARGET_SECONDS = 15 * 60
TARGET_RSS_MB = 2048
FLAT_RATIO = 1.25  # max peak RSS at 4x over 1x at most this: "flat"
RESOURCES = ("person", "legal_entity", "credit_record", "payment")


# -- children ---------------------------------------------------------------------------------------
def _child(case: list[str], env: dict[str, str], log: Path | None = None, *, in_process: bool = False) -> CaseResult:
    """Run one case in its own child process (or, for tests, in this one: no per-stage peak RSS)."""
    if in_process:
        result = _in_process(case, env)
    else:
        result = run_case(
            [sys.executable, "-m", "bench.bench_city", "--case", *case], env={**env, "PYTHONPATH": str(ROOT)}, cwd=ROOT
        )
    if log is not None:
        with log.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"case": case, "wall": result.wall, "rss_mb": result.rss_mb, **result.data}) + "\n")
    return result


def _in_process(case: list[str], env: dict[str, str]) -> CaseResult:
    from bench._harness import vmhwm_mb
    from govhub.settings import reset_settings

    os.environ.update(env)
    reset_settings()
    started = time.perf_counter()
    data = _run_case(_parser().parse_args(["--case", *case]))
    return CaseResult(wall=time.perf_counter() - started, rss_mb=vmhwm_mb(), data=data, loadavg=loadavg())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent dies (Linux; elsewhere nothing)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class CreditServer:
    """The credit platform simulator in its own process (`python -m simulators credit serve`)."""

    def __init__(self, db: Path, token: str, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("ab")
        self.proc = subprocess.Popen(  # it dies with this process (PR_SET_PDEATHSIG) even if this one is killed
            [
                sys.executable,
                "-m",
                "simulators",
                "credit",
                "serve",
                "--port",
                str(self.port),
                "--db",
                str(db),
                "--token",
                token,
                "--rate-limit",
                "1000",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the credit simulator did not start; see {log}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop this server process (only the one started here)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def _hub_env(work: Path, sources: Path, credit_url: str, token: str) -> dict[str, str]:
    return {
        "GOVHUB_HOME": str(work / "hub"),
        "GOVHUB_POPULATION_URL": f"sqlite:///{sources / 'population.sqlite'}",
        "GOVHUB_LEGAL_ENTITY_URL": f"sqlite:///{sources / 'legal_entity.sqlite'}",
        "GOVHUB_CREDIT_BASE_URL": credit_url,
        "GOVHUB_CREDIT_TOKEN": token,
        "GOVHUB_NONTAX_INBOX": str(sources / "inbox"),
    }


# -- one run ----------------------------------------------------------------------------------------
def _stage(kind: str, resource: str, result: CaseResult, after: str) -> dict[str, Any]:
    data = result.data
    stage = {
        "stage": "deliver" if kind == "delivery" else "ingest",
        "resource": resource,
        "kind": kind,
        "after": after,
        "seconds": round(result.wall, 3),
        "work_seconds": round(data.get("work_seconds", 0.0), 3),
        "rows": data.get("extracted", data.get("rows", 0)),
        "peak_rss_mb": round(max(result.rss_mb, data.get("vmhwm_mb", 0.0)), 1),
        "loadavg": result.loadavg,
    }
    keep = (
        "status",
        "version",
        "accepted",
        "rejected",
        "pending",
        "reconciled",
        "stages",
        "deliveries",
        "done",
        "rows_each",
        "snapshot",
        "errors",
    )
    stage.update({k: data[k] for k in keep if k in data})
    return stage


def run_city(
    scale: float,
    *,
    seed: int,
    workdir: Path | None,
    keep: bool,
    log=print,  # type: ignore[no-untyped-def]
    in_process: bool = False,
) -> dict[str, Any]:
    """One city run at `scale`; returns the JSON object the CLI prints.

    Keys: scale, seed, sizes (rows per resource), generation {seconds, build_seconds, tick_seconds,
    build_by_part, peak_rss_mb}, setup {seconds, peak_rss_mb}, stages [{stage, resource, kind
    (full|incremental|delivery), after (full|incremental), seconds (child wall), work_seconds, rows,
    peak_rss_mb, ...}], totals {seconds (setup + ingests + deliveries, generation excluded),
    ingest_seconds, delivery_seconds, peak_rss_mb, under_15_min, under_2_gb}, reconciled, problems.
    """
    work = Path(tempfile.mkdtemp(prefix=f"govhub_city_{scale:g}_", dir=workdir))
    sources = (work / "sources").resolve()
    events = work / "cases.jsonl"
    server: CreditServer | None = None
    problems: list[str] = []
    stages: list[dict[str, Any]] = []

    def child(case: list[str], env: dict[str, str]) -> CaseResult:
        return _child(case, env, events, in_process=in_process)

    try:
        log(f"scale {scale:g}: building the sources in {sources} ...")
        build = child(["build", "--root", str(sources), "--scale", str(scale), "--seed", str(seed)], {})
        counts = build["counts"]
        log(f"  built in {build.wall:.0f} s ({build['seconds_by_part']}), peak RSS {build.rss_mb:.0f} MB")
        token = json.loads((sources / "simulator.json").read_text(encoding="utf-8"))["token"]
        server = CreditServer(sources / "credit.sqlite", token, work / "credit_server.log")
        env = _hub_env(work, sources, server.url, token)
        setup = child(["setup", "--dir", str(work / "departments")], env)
        order = setup["order"]
        subs = {r: sum(s["resource"] == r for s in setup["subscriptions"]) for r in order}
        offered = {
            "person": counts["person"],
            "legal_entity": counts["legal_entity"],
            "credit_record": counts["credit_record"],
            "payment": build["payment_rows"],
        }
        tick: CaseResult | None = None
        for kind in ("full", "incremental"):
            if kind == "incremental":
                log("  tick: one working day at every source ...")
                tick = child(["tick", "--root", str(sources), "--day", "1"], {})
                offered = tick["offered"]
                log(f"  tick in {tick.wall:.0f} s: {tick['changes']}")
            for resource in order:
                result = child(["ingest", "--resource", resource], env)
                stages.append(_stage(kind, resource, result, kind))
                problems += _check_ingest(stages[-1], offered[resource])
                log(f"  {kind} {resource}: {result['extracted']:,} rows in {result.wall:.1f} s, "
                    f"peak RSS {stages[-1]['peak_rss_mb']:.0f} MB")  # fmt: skip
            for resource in order:
                result = child(["deliver", "--resource", resource], env)
                stages.append(_stage("delivery", resource, result, kind))
                problems += _check_delivery(stages[-1], subs[resource], stages, kind)
                log(f"  deliver {resource} after {kind}: {result['rows']:,} rows to {result['deliveries']} "
                    f"in {result.wall:.1f} s, peak RSS {stages[-1]['peak_rss_mb']:.0f} MB")  # fmt: skip
    finally:
        if server is not None:
            server.stop()
        if keep:
            log(f"  kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    ingest = sum(s["seconds"] for s in stages if s["stage"] == "ingest")
    deliver = sum(s["seconds"] for s in stages if s["stage"] == "deliver")
    total = setup.wall + ingest + deliver
    peak = max([setup.rss_mb, *(s["peak_rss_mb"] for s in stages)])
    return {
        "mode": "run",
        "isolation": "in-process" if in_process else "process per stage",
        "scale": scale,
        "seed": seed,
        "sizes": _sizes(build),
        "generation": {
            "seconds": round(build.wall + (tick.wall if tick else 0.0), 3),
            "build_seconds": round(build.wall, 3),
            "tick_seconds": round(tick.wall, 3) if tick else None,
            "build_by_part": {k: round(v, 3) for k, v in build["seconds_by_part"].items()},
            "tick_changes": tick["changes"] if tick else None,
            "peak_rss_mb": round(max(build.rss_mb, tick.rss_mb if tick else 0.0), 1),
        },
        "setup": {
            "seconds": round(setup.wall, 3),
            "peak_rss_mb": round(setup.rss_mb, 1),
            "subscriptions": setup["subscriptions"],
        },
        "stages": stages,
        "totals": {
            "seconds": round(total, 3),
            "ingest_seconds": round(ingest, 3),
            "delivery_seconds": round(deliver, 3),
            "peak_rss_mb": round(peak, 1),
            "under_15_min": total < TARGET_SECONDS,
            "under_2_gb": peak < TARGET_RSS_MB,
        },
        "reconciled": not problems,
        "problems": problems,
        "loadavg": loadavg(),
        "workdir": str(work) if keep else None,
    }


def _sizes(build: CaseResult) -> dict[str, int]:
    counts = build["counts"]
    return {
        "person": counts["person"],
        "legal_entity": counts["legal_entity"],
        "credit_record": counts["credit_record"],
        "payment": counts["payments_per_day"] * counts["settlement_files"],
        "payment_rows": build["payment_rows"],
        "payment_files": counts["settlement_files"],
    }


def _check_ingest(stage: dict[str, Any], offered: int) -> list[str]:
    """Counts reconcile: extracted = accepted + rejected + pending, and = the rows the source offered."""
    name = f"{stage['kind']} ingest of {stage['resource']}"
    out = []
    if stage.get("status") != "succeeded":
        out.append(f"{name}: status {stage.get('status')}")
    settled = stage.get("accepted", 0) + stage.get("rejected", 0) + (stage.get("pending") or 0)
    if not stage.get("reconciled") or stage["rows"] != settled:
        out.append(
            f"{name}: extracted {stage['rows']} != accepted {stage.get('accepted')} + "
            f"rejected {stage.get('rejected')} + pending {stage.get('pending')}"
        )
    if stage["rows"] != offered:
        out.append(f"{name}: extracted {stage['rows']} rows but the source offered {offered}")
    return out


def _check_delivery(stage: dict[str, Any], subscribers: int, stages: list[dict[str, Any]], after: str) -> list[str]:
    """Every subscriber got the run's new version (none when it published none): a snapshot after the full run,
    the change after the incremental one, never more rows than the run accepted."""
    name = f"deliveries of {stage['resource']} after the {after} run"
    ingests = [s for s in stages if s["stage"] == "ingest" and s["resource"] == stage["resource"]]
    # a run that published nothing reports no version (None), not the table's current one
    new_version = len(ingests) == 1 or ingests[-1].get("version") not in (None, ingests[-2].get("version"))
    expected = subscribers if new_version else 0
    out = []
    if stage.get("deliveries") != expected or stage.get("done") != expected:
        out.append(
            f"{name}: {stage.get('done')} of {stage.get('deliveries')} done, {expected} expected; "
            f"errors {stage.get('errors')}"
        )
    if expected and stage.get("snapshot") != (after == "full"):
        out.append(f"{name}: snapshot={stage.get('snapshot')}, expected {after == 'full'}")
    if after == "incremental" and any(rows > ingests[-1].get("accepted", 0) for rows in stage.get("rows_each", [])):
        out.append(f"{name}: a subscriber got more rows than the run accepted ({stage.get('rows_each')})")
    return out


# -- series and output -------------------------------------------------------------------------------
def run_series(
    base: float,
    *,
    seed: int,
    workdir: Path | None,
    keep: bool,
    log=print,  # type: ignore[no-untyped-def]
    in_process: bool = False,
) -> dict[str, Any]:
    """1x, 2x, 4x of `base`: each a full city run; the flatness verdict on the max peak RSS."""
    runs = [
        run_city(base * k, seed=seed, workdir=workdir, keep=keep, log=log, in_process=in_process) for k in (1, 2, 4)
    ]
    series = [
        {
            "scale": r["scale"],
            "persons": r["sizes"]["person"],
            "seconds": r["totals"]["seconds"],
            "max_peak_rss_mb": r["totals"]["peak_rss_mb"],
        }
        for r in runs
    ]
    ratio = series[-1]["max_peak_rss_mb"] / series[0]["max_peak_rss_mb"]
    growth = {}
    for stage in runs[0]["stages"]:
        key = f"{stage['kind']}:{stage['resource']}" + (f":{stage['after']}" if stage["kind"] == "delivery" else "")
        last = next(
            s
            for s in runs[-1]["stages"]
            if s["kind"] == stage["kind"] and s["resource"] == stage["resource"] and s["after"] == stage["after"]
        )
        growth[key] = round(last["peak_rss_mb"] / stage["peak_rss_mb"], 3)
    return {
        "mode": "series",
        "base_scale": base,
        "seed": seed,
        "runs": runs,
        "series": series,
        "flatness": {
            "max_peak_rss_mb": [s["max_peak_rss_mb"] for s in series],
            "ratio_4x_over_1x": round(ratio, 3),
            "threshold": FLAT_RATIO,
            "flat": ratio <= FLAT_RATIO,
            "verdict": "flat" if ratio <= FLAT_RATIO else f"grows x{ratio:.2f} over a 4x size increase",
            "stage_growth_4x_over_1x": growth,
        },
        "reconciled": all(r["reconciled"] for r in runs),
        "loadavg": loadavg(),
    }


def print_run(result: dict[str, Any]) -> None:
    """The human table of one run."""
    sizes, gen, totals = result["sizes"], result["generation"], result["totals"]
    rows = [
        [
            s["kind"],
            s["resource"],
            s["after"] if s["kind"] == "delivery" else "",
            s["rows"],
            s["seconds"],
            s["work_seconds"],
            s["peak_rss_mb"],
        ]
        for s in result["stages"]
    ]
    title = (
        f"city scale {result['scale']:g}: {sizes['person']:,} persons, {sizes['legal_entity']:,} legal entities, "
        f"{sizes['credit_record']:,} credit records, {sizes['payment_rows']:,} payment rows in "
        f"{sizes['payment_files']} files"
    )
    print_table(["kind", "resource", "after", "rows", "wall s", "work s", "peak RSS MB"], rows, title=title)
    print(
        f"setup {result['setup']['seconds']:.1f} s; ingests {totals['ingest_seconds']:.1f} s; deliveries "
        f"{totals['delivery_seconds']:.1f} s; end to end {totals['seconds']:.1f} s "
        f"({'under' if totals['under_15_min'] else 'OVER'} 15 min); max peak RSS {totals['peak_rss_mb']:.0f} MB "
        f"({'under' if totals['under_2_gb'] else 'OVER'} 2 GB)"
    )
    print(
        f"source generation (not the hub's): build {gen['build_seconds']:.1f} s {gen['build_by_part']}, "
        f"tick {gen['tick_seconds']:.1f} s; counts {'reconcile' if result['reconciled'] else 'DO NOT reconcile'}"
        f"{'' if result['reconciled'] else ': ' + '; '.join(result['problems'])}; loadavg {result['loadavg']}"
    )


def print_series(result: dict[str, Any]) -> None:
    """The human tables of a series: each run, then max RSS per size and the verdict."""
    for run in result["runs"]:
        print_run(run)
    rows = [[s["scale"], s["persons"], s["seconds"], s["max_peak_rss_mb"]] for s in result["series"]]
    print_table(["scale", "persons", "end to end s", "max peak RSS MB"], rows, title="peak RSS as sizes grow")
    flat = result["flatness"]
    print(f"peak RSS 4x/1x = {flat['ratio_4x_over_1x']:.2f} (flat if <= {FLAT_RATIO}): {flat['verdict']}")
    grows = {k: v for k, v in flat["stage_growth_4x_over_1x"].items() if v > FLAT_RATIO}
    print(f"stages whose peak RSS grows over x{FLAT_RATIO}: {grows or 'none'}")


def _run_case(args: argparse.Namespace) -> dict[str, Any]:
    from bench import city_hub

    if args.case == "build":
        return city_hub.case_build(args.root, args.scale or 1.0, args.seed)
    if args.case == "setup":
        return city_hub.case_setup(args.dir)
    if args.case == "ingest":
        return city_hub.case_ingest(args.resource)
    if args.case == "tick":
        return city_hub.case_tick(args.root, args.day)
    return city_hub.case_deliver(args.resource)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--scale", type=float, default=None, help="share of the city (1.0 = 4 M persons); default 1.0")
    what.add_argument("--series", type=float, metavar="BASE_SCALE", help="run 1x, 2x, 4x of BASE_SCALE")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, help="parent folder of the work dir (default: the temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (sources, hub, lake)")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run every stage in this process (fast tests; peak RSS is then cumulative)",
    )
    parser.add_argument("--case", choices=["build", "setup", "ingest", "tick", "deliver"], help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--resource", choices=RESOURCES, help=argparse.SUPPRESS)
    parser.add_argument("--day", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.case:
        emit(_run_case(args))
        return 0
    for key in [k for k in os.environ if k.startswith("GOVHUB_")]:  # the children get only what is set here
        del os.environ[key]
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the credit server, remove the work dir

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        if args.series is not None:
            result = run_series(
                args.series,
                seed=args.seed,
                workdir=args.workdir,
                keep=args.keep,
                log=progress,
                in_process=args.in_process,
            )
            print_series(result)
        else:
            scale = 1.0 if args.scale is None else args.scale
            result = run_city(
                scale, seed=args.seed, workdir=args.workdir, keep=args.keep, log=progress, in_process=args.in_process
            )
            print_run(result)
    except RuntimeError as e:
        print(json.dumps({"mode": "error", "error": str(e)[-4000:]}), flush=True)
        return 1
    print(json.dumps(result, ensure_ascii=False, default=str), flush=True)
    return 0 if result["reconciled"] else 2


if __name__ == "__main__":
    sys.exit(main())
