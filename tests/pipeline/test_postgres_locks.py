"""Two ingest runs of one resource started at the same instant: exactly one takes the lock.

SQLite serialises writers and so hides races; these run on both stores (PostgreSQL skips without a
server), in threads and in separate processes, on a fresh store (the state row does not exist yet)
and on one whose state row exists.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from govhub.db import session_scope
from govhub.models import IngestRun, ResourceState
from govhub.pipeline import begin, fail
from schemas import StateError

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 3


def _race_in_threads(resource: str) -> tuple[list[str], list[BaseException]]:
    """`begin(resource)` in two threads released by one barrier; the run ids won and the errors raised."""
    barrier = threading.Barrier(2)
    won: list[str] = []
    lost: list[BaseException] = []

    def contender() -> None:
        barrier.wait()
        try:
            won.append(begin(resource))
        except BaseException as e:  # the test inspects whatever the loser got
            lost.append(e)

    threads = [threading.Thread(target=contender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return won, lost


def _assert_one_winner(resource: str, won: list[str], lost: list[BaseException]) -> str:
    assert len(won) == 1, f"winners {won}, errors {lost!r}"
    assert len(lost) == 1 and isinstance(lost[0], StateError), f"the loser got {lost!r}, not a StateError"
    [winner] = won
    assert f"'{resource}' is being ingested by run {winner} " in str(lost[0])
    assert "wait for it to finish" in str(lost[0])
    with session_scope() as session:
        assert session.get(ResourceState, resource).lock_run_id == winner
        runs = session.query(IngestRun).filter_by(resource=resource, status="running").all()
        assert [r.run_id for r in runs] == [winner]
    return winner


def test_threads_racing_for_one_resource_leave_one_winner(hub) -> None:
    for _ in range(ROUNDS):  # the first round also races to create the state row
        won, lost = _race_in_threads("person")
        winner = _assert_one_winner("person", won, lost)
        fail(winner, "race over")
    with session_scope() as session:
        assert session.get(ResourceState, "person").lock_run_id is None


_CONTENDER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from govhub.pipeline import begin
    from schemas import StateError
    go = Path(sys.argv[2])
    Path(sys.argv[3]).touch()  # ready: imports done
    while not go.exists():
        time.sleep(0.001)
    try:
        print(json.dumps({"won": begin(sys.argv[1])}))
    except StateError as e:
        print(json.dumps({"lost": str(e)}))
    """
)


def test_processes_racing_for_one_resource_leave_one_winner(hub, tmp_path: Path) -> None:
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(2)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CONTENDER, "person", str(go), str(r)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for r in ready
    ]
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in ready) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outputs]
    results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outputs]
    won = [r["won"] for r in results if "won" in r]
    lost = [StateError(r["lost"]) for r in results if "lost" in r]
    winner = _assert_one_winner("person", won, lost)
    # the winner's process has exited without finishing: its pid is gone, so the next run takes over
    successor = begin("person")
    with session_scope() as session:
        assert session.get(ResourceState, "person").lock_run_id == successor
        dead = session.get(IngestRun, winner)
        assert dead.status == "failed" and dead.error.startswith("abandoned: the process died in stage begin")
    fail(successor, "race over")
