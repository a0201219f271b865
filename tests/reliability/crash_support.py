"""The crash lab: small sources, hub templates, clean references, and one kill-then-re-run trial at a time.

Built once per test module, all in forked children (see crash_fork.py):

- two source homes from the same seed: S0 as built, S1 = S0 plus one working day (`tick_all`), each
  with its credit platform served by a child process;
- hub templates at one fixed path (so the absolute paths a hub stores stay valid when a template is
  copied back): per resource a hub where the resources it references are ingested ("first load"),
  the hub with all four ingested from S0 ("increment": a trial ingests S1), and for deliveries the
  S0 hub with granted subscriptions ("snapshot") and the same after delivering and ingesting S1
  ("increment");
- the clean reference of every scenario: its snapshot, the calls each kill point saw, its duration.

A trial copies a template into place, runs the stage in a child that dies by SIGKILL (at a kill
point, or from outside after a random delay), re-runs it in another child, and compares.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import random
import shutil
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.reliability.crash_checks import compare_delivery, compare_ingest, delivery_snapshot, ingest_snapshot
from tests.reliability.crash_fork import (
    ChildError,
    Ended,
    assert_fork_safe,
    child_env,
    in_child,
    in_children,
    run_to_death,
)
from tests.reliability.crash_points import DELIVERY_POINTS, INGEST_POINTS, KillPoint, Tally, install

__all__ = ["SEED_ENV", "CrashLab", "CrashRun", "Trial", "TrialResult", "plan_trials", "regression_trials", "seed"]

SEED_ENV = "GOVHUB_RELIABILITY_SEED"
DEFAULT_SEED = 20260301
SIZE = 240  # persons; entities, credit records and payments follow (see simulators.build_all)


def seed() -> int:
    """The trials' seed: GOVHUB_RELIABILITY_SEED, or a fixed default (every run draws the same trials)."""
    return int(os.environ.get(SEED_ENV) or DEFAULT_SEED)


@dataclass(frozen=True)
class Trial:
    """One kill: which run (ingest/delivery, resource, scenario) and where (a kill point's n-th call, or a delay)."""

    index: int
    kind: str  # "ingest" or "delivery"
    resource: str
    scenario: str  # ingest: "first" or "increment"; delivery: "snapshot" or "increment"
    point: KillPoint | None = None
    nth: int = 0
    delay: float | None = None

    @property
    def name(self) -> str:
        if self.point is None:
            where = f"from outside after {self.delay:.3f} s"
        elif self.point.when == "during":
            where = f"{self.point.label} (call {self.nth}, {self.delay:.3f} s in)"
        else:
            where = f"{self.point.label} (call {self.nth})"
        return f"#{self.index} {self.kind} {self.resource} ({self.scenario}) killed {where}"


@dataclass
class TrialResult:
    """What a trial found: whether the kill landed, where the run was, problems and rows (or versions) lost."""

    trial: Trial
    killed: bool
    where: str
    problems: list[str] = field(default_factory=list)
    rows_lost: int = 0
    orphans: int = 0

    @property
    def held(self) -> bool:
        return not self.problems and self.rows_lost == 0


@dataclass
class CrashRun:
    """A whole run of trials, as the runner process hands it to the test."""

    seed: int
    workers: int
    setup_seconds: float
    trial_seconds: float
    results: list[TrialResult] = field(default_factory=list)
    clean_seconds: dict[str, float] = field(default_factory=dict)
    root: str = ""


@dataclass
class _Reference:
    snapshot: dict[str, Any]
    tally: Tally
    seconds: float


class _Env:
    """Collects the variables `configure_hub_env` would set (it speaks to a monkeypatch-like object)."""

    def __init__(self) -> None:
        self.env: dict[str, str | None] = {"GOVHUB_DB_URL": None, "GOVHUB_LAKE_URL": None}

    def setenv(self, name: str, value: str) -> None:
        self.env[name] = str(value)


# -- children ---------------------------------------------------------------------------------------


def _build_sources(root: Path, day: int, _slot: int = 0) -> Any:
    from simulators import build_all, tick_all

    home = build_all(root, size=SIZE, seed=11, bad_share=0.03)
    if day:
        tick_all(home, day=day, change_share=0.05)
    return home


def _serve_credit(db: Path, token: str) -> tuple[int, str]:
    """A credit platform in a child process of its own (uvicorn's thread must not live in the parent)."""
    assert_fork_safe()
    parent = os.getpid()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            from simulators import CreditSimulator

            sim = CreditSimulator(db, token=token, rate_limit=10_000)
            os.write(write_fd, sim.start().encode() + b"\n")
            while os.getppid() == parent:  # until stopped (SIGTERM), or the parent is gone
                time.sleep(0.5)
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as out:
        url = out.readline().decode().strip()
    if not url:
        os.waitpid(pid, 0)
        raise RuntimeError("the credit simulator did not start in its child process")
    return pid, url


def _dispose() -> None:
    from govhub.db import get_engine

    get_engine().dispose()


def _save_template(home: Path, to: Path) -> None:
    _dispose()  # last connection closed: SQLite checkpoints its WAL into the database file
    shutil.copytree(home, to)


def _ingest_all(resources: list[str]) -> None:
    from govhub.pipeline import run_ingest

    for resource in resources:
        summary = run_ingest(resource)
        if summary["status"] != "succeeded":
            raise RuntimeError(f"template ingest of {resource} did not succeed: {summary}")


def _subscribe(home: Path) -> None:
    """The demo's applications (file, database, api modes), plus person by file with masked identities."""
    from catalog import apply, decide
    from catalog.departments import Department
    from govhub.db import session_scope
    from govhub.demo_sharing import seed_subscriptions
    from schemas import load_contract

    seed_subscriptions(home)
    with session_scope() as session:
        fields = [f.name for f in load_contract("person").fields]
        civil_affairs = session.query(Department).filter_by(name="市民政局").one()
        sub = apply(
            session,
            department_code=civil_affairs.code,
            resource="person",
            purpose="社会救助家庭经济状况核对",
            legal_basis="《社会救助暂行办法》",
            fields=fields,
            delivery_mode="file",
        )
        if sub.status == "pending":
            decide(session, sub.id, actor_department=_provider(session, "person"), approve=True, reason="符合共享条件")


def _provider(session: Any, resource: str) -> str:
    from catalog.resources import get_resource

    return get_resource(session, resource).provider_code


def _deliver_all(resources: list[str]) -> None:
    from govhub.delivery_runner import run_deliveries

    for resource in resources:
        failed = [r for r in run_deliveries(resource) if r["status"] != "done"]
        if failed:
            raise RuntimeError(f"template delivery of {resource} failed: {failed}")


def _switch_sources(env: dict[str, str | None]) -> None:
    """Point the running child at other sources, keeping its metadata engine (same store)."""
    from govhub.settings import reset_settings

    os.environ.update({k: v for k, v in env.items() if v is not None})
    reset_settings()


def _build_templates(hub: Path, templates: Path, s1: dict, order: list[str]) -> list[str]:
    """Every template, in one child (see module docstring); returns the modules a real run imported."""
    from govhub.db import migrate
    from govhub.delivery_runner import delivery_secret

    migrate()
    for resource in order:
        _save_template(hub, templates / f"ingest-first-{resource}")
        _ingest_all([resource])
    _save_template(hub, templates / "ingest-increment")
    _subscribe(hub)
    delivery_secret()  # made once, as a hub's is: every trial masks with the same pseudonym key
    _save_template(hub, templates / "delivery-snapshot")
    _deliver_all(order)
    _switch_sources(s1)
    _ingest_all(order)
    _save_template(hub, templates / "delivery-increment")
    return sorted(sys.modules)


def _counted(points: list[KillPoint], run: Callable[[], Any], snapshot: Callable[[], dict]) -> _Reference:
    live = install(points)
    started = time.monotonic()
    run()
    seconds = time.monotonic() - started
    tally = Tally(Counter(live.calls), dict(live.seconds))  # the run's calls, not the snapshot's
    return _Reference(snapshot(), tally, seconds)


def _ingest(resource: str) -> Callable[[], Any]:
    def run() -> Any:
        from govhub.pipeline import run_ingest

        return run_ingest(resource)

    return run


def _deliver(resource: str) -> Callable[[], Any]:
    def run() -> Any:
        from govhub.delivery_runner import run_deliveries

        return run_deliveries(resource)

    return run


def _where_ingest(resource: str, base_seq: int) -> str:
    """Where the killed run was, from its run record: 'during <stage>', or before/after the run."""
    from sqlalchemy import select

    from govhub.db import session_scope
    from govhub.models import IngestRun

    with session_scope() as session:
        runs = session.scalars(select(IngestRun).where(IngestRun.resource == resource, IngestRun.seq > base_seq)).all()
        if not runs:
            return "during begin"
        run = max(runs, key=lambda r: (r.seq, r.started_at))
        return f"during {run.stage}" if run.status == "running" else f"after the run ({run.status})"


def _rerun_ingest(resource: str, base_seq: int) -> dict[str, Any]:
    """In a child: where the kill was, the re-run, its snapshot, then a second re-run that must move nothing."""
    from sqlalchemy import select

    from govhub.db import session_scope
    from govhub.models import IngestRun
    from govhub.pipeline import run_ingest

    where = _where_ingest(resource, base_seq)
    problems = []
    try:
        first = run_ingest(resource)
        if first["status"] != "succeeded":
            problems.append(f"the re-run ended {first['status']}")
    except Exception as e:
        problems.append(f"the re-run raised {type(e).__name__}: {str(e)[:500]}")
    snapshot = ingest_snapshot(resource)
    try:
        second = run_ingest(resource)
        if second["extracted"]:
            problems.append(f"a second re-run extracted {second['extracted']} rows (should be 0)")
    except Exception as e:
        problems.append(f"the second re-run raised {type(e).__name__}: {str(e)[:500]}")
    with session_scope() as session:
        statuses = Counter(session.scalars(select(IngestRun.status).where(IngestRun.resource == resource)).all())
    if set(statuses) - {"succeeded", "failed"}:
        problems.append(f"run statuses after both re-runs: {dict(statuses)}")
    return {"where": where, "problems": problems, "snapshot": snapshot}


def _rerun_delivery(resource: str) -> dict[str, Any]:
    from sqlalchemy import select

    from exchange.delivery import Delivery
    from govhub.db import session_scope
    from govhub.delivery_runner import run_deliveries

    problems = []
    with session_scope() as session:
        pending = session.scalars(select(Delivery).where(Delivery.status != "done")).all()
        where = "before any delivery record" if not pending else "with a delivery under way"
    try:
        failed = [r for r in run_deliveries(resource) if r["status"] != "done"]
        if failed:
            problems.append(
                "the re-run's deliveries failed: "
                + "; ".join(f"subscription {r['subscription_id']} v{r['to_version']}: {r['error']}" for r in failed)
            )
    except Exception as e:
        problems.append(f"the re-run raised {type(e).__name__}: {str(e)[:500]}")
    snapshot = delivery_snapshot()
    try:
        again = run_deliveries(resource)
        if again:
            problems.append(
                "a second re-run delivered again: "
                + ", ".join(f"subscription {r['subscription_id']} v{r['to_version']} {r['status']}" for r in again)
            )
    except Exception as e:
        problems.append(f"the second re-run raised {type(e).__name__}: {str(e)[:500]}")
    with session_scope() as session:
        left = session.scalars(select(Delivery).where(Delivery.status == "running")).all()
        if left:
            problems.append(f"{len(left)} deliveries left 'running'")
    return {"where": where, "problems": problems, "snapshot": snapshot}


# -- the lab ----------------------------------------------------------------------------------------


class CrashLab:
    """Sources, templates and clean references under `root`; runs trials (see module docstring).

    Trials run `workers` at a time, each in a hub folder of its own (`hub-<slot>`).
    """

    def __init__(self, root: Path, *, workers: int = 2) -> None:
        self.root = root
        self.hub = root / "hub"  # where templates are built; trials run in hub-<slot>
        self.templates = root / "templates"
        self.workers = workers
        self._servers: list[int] = []
        self.envs: dict[str, dict[str, str | None]] = {}
        self.order: list[str] = []
        self.references: dict[tuple[str, str, str], _Reference] = {}
        self.setup_seconds = 0.0

    # setup
    def start(self) -> CrashLab:
        from schemas import dependency_order
        from tests.hub_support import configure_hub_env

        started = time.monotonic()
        self.order = list(dependency_order())
        days = {"S0": 0, "S1": 1}
        jobs = [functools.partial(_build_sources, self.root / name, day) for name, day in days.items()]
        for name, sources in zip(days, in_children(jobs, workers=self.workers), strict=True):
            if isinstance(sources, ChildError):
                raise sources
            pid, url = _serve_credit(sources.credit_db, sources.token)
            self._servers.append(pid)
            collector = _Env()
            configure_hub_env(collector, self.hub, sources, url)  # type: ignore[arg-type]
            self.envs[name] = collector.env
        modules = in_child(_build_templates, self.hub, self.templates, self.envs["S1"], self.order, env=self.envs["S0"])
        _preload(modules)
        scenarios = [
            (k, r, s)
            for r in self.order
            for k, ss in (("ingest", ("first", "increment")), ("delivery", ("snapshot", "increment")))
            for s in ss
        ]
        jobs = [functools.partial(self._reference, *scenario) for scenario in scenarios]
        for scenario, reference in zip(scenarios, in_children(jobs, workers=self.workers), strict=True):
            if isinstance(reference, ChildError):
                raise reference
            self.references[scenario] = reference
        self.setup_seconds = time.monotonic() - started
        return self

    def stop(self) -> None:
        for pid in self._servers:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
        self._servers.clear()

    def _template(self, kind: str, resource: str, scenario: str) -> Path:
        if kind == "ingest":
            return self.templates / (f"ingest-first-{resource}" if scenario == "first" else "ingest-increment")
        return self.templates / f"delivery-{scenario}"

    def _env(self, kind: str, scenario: str, hub: Path) -> dict[str, str | None]:
        env = self.envs["S1" if kind == "ingest" and scenario == "increment" else "S0"]
        return {**env, "GOVHUB_HOME": str(hub)}

    def _place(self, kind: str, resource: str, scenario: str, slot: int) -> Path:
        """A fresh copy of the scenario's template as hub-<slot>; department databases re-pointed there."""
        hub = self.root / f"hub-{slot}"
        if hub.exists():
            shutil.rmtree(hub)
        shutil.copytree(self._template(kind, resource, scenario), hub)
        with contextlib.closing(sqlite3.connect(hub / "govhub.db")) as db, db:
            db.execute(
                "UPDATE delivery_target SET connection_ref = replace(connection_ref, ?, ?)", (str(self.hub), str(hub))
            )
        for secret in (hub / "keys" / "delivery-targets").rglob("*.url"):  # the department databases move too
            secret.write_text(secret.read_text().replace(str(self.hub), str(hub)))
        return hub

    def _reference(self, kind: str, resource: str, scenario: str, slot: int) -> _Reference:
        hub = self._place(kind, resource, scenario, slot)
        child_env(self._env(kind, scenario, hub))
        if kind == "ingest":
            return _counted(INGEST_POINTS, _ingest(resource), lambda: ingest_snapshot(resource))
        return _counted(DELIVERY_POINTS, _deliver(resource), delivery_snapshot)

    # trials
    def points(self, kind: str, resource: str, scenario: str) -> list[tuple[KillPoint, int, float]]:
        """The kill points a clean run of this scenario reaches: how often, and its longest call (seconds)."""
        tally = self.references[kind, resource, scenario].tally
        return [
            (p, tally.calls[p.key], tally.seconds.get(p.key, 0.0))
            for p in (INGEST_POINTS if kind == "ingest" else DELIVERY_POINTS)
            if tally.calls[p.key]
        ]

    def clean_seconds(self, kind: str, resource: str, scenario: str) -> float:
        return self.references[kind, resource, scenario].seconds

    def run_all(self, trials: list[Trial]) -> list[TrialResult]:
        """Every trial, `workers` at a time; a trial whose machinery failed is a result with that problem."""
        outcomes = in_children([functools.partial(self.run, t) for t in trials], workers=self.workers)
        return [
            o if isinstance(o, TrialResult) else TrialResult(t, False, "unknown", [f"the trial itself failed: {o}"])
            for t, o in zip(trials, outcomes, strict=True)
        ]

    def run(self, trial: Trial, slot: int = 0) -> TrialResult:
        """Place the template, kill a run as the trial says, re-run it, and compare with the clean run."""
        kind, resource, scenario = trial.kind, trial.resource, trial.scenario
        arm = None
        if trial.point is not None:
            point, nth, delay = trial.point, trial.nth, trial.delay or 0.0

            def arm() -> None:
                install(INGEST_POINTS if kind == "ingest" else DELIVERY_POINTS, arm=(point.key, nth, delay))

        run = _ingest(resource) if kind == "ingest" else _deliver(resource)
        kill_after = trial.delay if trial.point is None else None
        for _ in range(3):  # an outside kill that came after the run ended is tried again, sooner
            hub = self._place(kind, resource, scenario, slot)
            env = self._env(kind, scenario, hub)
            ended: Ended = run_to_death(run, env=env, arm=arm, kill_after=kill_after)
            if ended.killed or kill_after is None:
                break
            kill_after /= 2
        reference = self.references[kind, resource, scenario]
        problems: list[str] = []
        if ended.error:
            problems.append(f"the killed run raised before its kill: {ended.error.strip().splitlines()[-1]}")
        try:
            if kind == "ingest":
                base_seq = 0 if scenario == "first" else 1
                outcome = in_child(_rerun_ingest, resource, base_seq, env=env)
                found, lost = compare_ingest(reference.snapshot, outcome["snapshot"])
                orphans = sum(h["orphans"] for h in outcome["snapshot"]["health"].values())
            else:
                outcome = in_child(_rerun_delivery, resource, env=env)
                found, lost = compare_delivery(reference.snapshot, outcome["snapshot"])
                orphans = 0
        except ChildError as e:
            return TrialResult(trial, ended.killed, "unknown", [f"the re-run's child failed: {e}"], 0)
        result = TrialResult(
            trial, ended.killed, outcome["where"], problems + outcome["problems"] + found, lost, orphans
        )
        if not result.held:  # kept for a look: the hub as the re-run left it
            keep = self.root / "failed" / f"trial-{trial.index:04d}"
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(hub, keep)
        return result


def _preload(modules: list[str]) -> None:
    """Import in this (parent) process what a real run imported, so forked runs do not import it again."""
    for name in modules:
        if name in sys.modules or name.startswith(("__main__", "__mp_main__")):
            continue
        try:
            importlib.import_module(name)
        except Exception:  # aliases and optional submodules: the run imports what it needs itself
            continue
    assert_fork_safe()


def plan_trials(lab: CrashLab, kind: str, count: int, *, seed: int, first_index: int = 0) -> list[Trial]:
    """`count` trials of `kind` ("ingest" or "delivery") drawn from `seed`.

    Resource and scenario go round in a shuffled order (all four resources, both scenarios); each
    trial then kills at a kill point (drawn among those a clean run reaches, n among its calls; a
    "during" point fires a timer within the call's clean duration) or, one time in three, from
    outside after a delay drawn within the clean run's duration.
    """
    rng = random.Random(f"{seed}-{kind}")
    scenarios = ("first", "increment") if kind == "ingest" else ("snapshot", "increment")
    order = [(r, s) for r in lab.order for s in scenarios]
    rng.shuffle(order)
    trials: list[Trial] = []
    for index in range(first_index, first_index + count):
        resource, scenario = order[(index - first_index) % len(order)]
        points = lab.points(kind, resource, scenario)
        if points and rng.random() < 2 / 3:
            point, calls, seconds = rng.choice(points)
            delay = round(rng.uniform(0.0, seconds), 4) if point.when == "during" else None
            trials.append(Trial(index, kind, resource, scenario, point=point, nth=rng.randint(1, calls), delay=delay))
        else:
            delay = rng.uniform(0.0, 0.85 * lab.clean_seconds(kind, resource, scenario))
            trials.append(Trial(index, kind, resource, scenario, delay=round(delay, 4)))
    return trials


# Kills that once made a re-run differ from a clean run; kept as fixed trials on top of the drawn ones.
# - A run killed after its Delta commit and before `register` left the version without its row total
#   and quality scorecard in the catalogue once the next run adopted the commit (found with seed 1).
# - A run killed before `advance` cleared its staging folder left it in the lake for good (found when
#   the comparison learnt to look at staging folders).
# - A run killed between its Delta commit and the row index write must leave a table the re-run counts
#   right (the missing index is rebuilt by a scan).
REGRESSIONS = [
    ("ingest", "payment", "increment", "after the dataset suite", 1),
    ("ingest", "credit_record", "first", "after the first Delta load or a run's change append", 1),
    ("ingest", "person", "increment", "after the first Delta load or a run's change append", 1),  # its commit
    ("ingest", "person", "first", "after stage extract", 1),
    ("ingest", "legal_entity", "increment", "before the staging clean-up", 1),
    ("ingest", "person", "first", "before the row index write", 1),  # a first load committed, its index not
    ("ingest", "person", "increment", "before the row index write", 1),  # a change committed, its index not
]


def regression_trials(lab: CrashLab, *, first_index: int = 0) -> list[Trial]:
    """The REGRESSIONS as trials."""
    points = {p.label: p for p in (*INGEST_POINTS, *DELIVERY_POINTS)}
    return [
        Trial(first_index + i, kind, resource, scenario, point=points[label], nth=nth)
        for i, (kind, resource, scenario, label, nth) in enumerate(REGRESSIONS)
    ]
