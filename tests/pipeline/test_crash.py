"""kill -9 at the dangerous points of a run, then a re-run: the same curated rows and watermark as a clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from govhub.db import migrate, session_scope
from govhub.models import IngestRun, ResourceState
from govhub.pipeline import run_ingest
from govhub.pipeline.resources import open_resource
from govhub.settings import reset_settings

ROOT = Path(__file__).resolve().parents[2]

# Each crash point patches one lake call so the process kills itself with SIGKILL right there.
CRASH_POINTS = {
    "after_quarantine_write": ("lake.QuarantineTable", "write", "after"),
    "before_delta_commit": ("lake.CuratedTable", "commit", "before"),
    "after_delta_commit": ("lake.CuratedTable", "commit", "after"),
    "after_register": ("govhub.pipeline.stages", "advance", "before"),
}

_CRASHER = textwrap.dedent(
    """
    import importlib, os, signal, sys
    module_name, attr, when = sys.argv[1], sys.argv[2], sys.argv[3]
    module_path, _, cls_name = module_name.rpartition(".")
    if module_name == "govhub.pipeline.stages":
        import govhub.pipeline as target
        owner = target
    else:
        owner = getattr(importlib.import_module(module_path), cls_name)
    original = getattr(owner, attr)

    def crashing(*args, **kwargs):
        if when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, attr, crashing)
    from govhub.pipeline import run_ingest
    run_ingest(sys.argv[4])
    """
)


def _snapshot(resource: str) -> tuple[list[dict], dict | None, int | None]:
    ctx = open_resource(resource)
    key = ctx.contract.primary_key[0]
    rows = sorted(ctx.curated.read().to_pylist(), key=lambda r: r[key])
    with session_scope() as session:
        state = session.get(ResourceState, resource)
        return rows, state.watermark, state.last_version


def _use_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("GOVHUB_HOME", str(home))
    reset_settings()
    migrate()


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_kill_then_rerun_equals_a_clean_run(hub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, point: str) -> None:
    resource = "person"
    # the clean run, in its own hub home over the same sources
    _use_home(monkeypatch, tmp_path / "clean")
    run_ingest(resource)
    clean = _snapshot(resource)

    _use_home(monkeypatch, tmp_path / "crashed")
    module_name, attr, when = CRASH_POINTS[point]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    crashed = subprocess.run(
        [sys.executable, "-c", _CRASHER, module_name, attr, when, resource], env=env, cwd=ROOT, capture_output=True
    )
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr.decode()[-2000:]

    summary = run_ingest(resource)  # the re-run: recovers or redoes
    assert _snapshot(resource) == clean
    assert run_ingest(resource)["extracted"] == 0  # nothing skipped, nothing left over
    with session_scope() as session:
        runs = session.query(IngestRun).filter_by(resource=resource).all()
        assert all(r.status in ("succeeded", "failed") for r in runs)
    assert summary["status"] == "succeeded"
