"""Child processes forked from a pre-warmed parent: run a function and get its result, or kill it.

A fresh interpreter importing govhub and Great Expectations costs ~10 s; a fork of a parent that
imported them costs milliseconds. Forking is only safe while the parent is single-threaded and has
not started delta-rs' tokio runtime or opened a database connection: delta-rs panics in a child
forked after its runtime started, and an inherited SQLite connection must never be used twice.
So the parent only imports and copies files; everything that touches the lake or a database runs
in a child (`assert_fork_safe` checks the thread half before each fork). The native threads that
importing numpy (OpenBLAS) and pyarrow/deltalake (jemalloc) starts are fork-aware (at-fork
handlers); tokio is not, and delta-rs refuses to run in a child forked after its runtime started,
so that mistake cannot pass unnoticed.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ChildError", "Ended", "assert_fork_safe", "child_env", "in_child", "in_children", "run_to_death"]


class ChildError(RuntimeError):
    """A forked child raised: carries the child's traceback text."""


@dataclass(frozen=True)
class Ended:
    """How a child that was meant to be killed ended: by SIGKILL, by exiting, and after how long."""

    killed: bool
    exit_code: int | None
    seconds: float
    error: str | None = None


def assert_fork_safe() -> None:
    """Refuse to fork from a parent with threads (a thread's held lock would be held forever in the child)."""
    others = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    if others:
        raise RuntimeError(
            f"the crash loop forks its runs from this process, which has threads {others}; start them "
            "in a child process instead (a lock held by a thread at fork time stays held in the child)"
        )


def child_env(env: Mapping[str, str | None]) -> None:
    """In a fresh child: take `env` (None unsets) and drop every cached setting and engine from the parent."""
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    from govhub.db import engine_for
    from govhub.settings import reset_settings

    engine_for.cache_clear()
    reset_settings()


def _read_all(fd: int, pid: int, timeout: float) -> bytes:
    chunks, deadline = [], time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise ChildError(f"child {pid} did not finish within {timeout:.0f} s; killed")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def _answer_and_exit(write_fd: int, call: Callable[[], Any]) -> None:
    """In a forked child: run `call`, pickle ("ok", result) or ("error", traceback) into the pipe, exit."""
    code = 0
    try:
        payload = pickle.dumps(("ok", call()))
    except BaseException:
        payload, code = pickle.dumps(("error", traceback.format_exc())), 1
    try:
        with os.fdopen(write_fd, "wb") as out:
            out.write(payload)
    finally:
        os._exit(code)


def in_child(
    fn: Callable[..., Any], *args: Any, env: Mapping[str, str | None] | None = None, timeout: float = 120
) -> Any:
    """Run `fn(*args)` in a forked child (with `env`) and return its pickled result; raise ChildError on error."""
    assert_fork_safe()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_fd)

        def call() -> Any:
            if env is not None:
                child_env(env)
            return fn(*args)

        _answer_and_exit(write_fd, call)
    os.close(write_fd)
    try:
        data = _read_all(read_fd, pid, timeout)
    finally:
        os.close(read_fd)
    os.waitpid(pid, 0)
    if not data:
        raise ChildError(f"child {pid} died without an answer")
    kind, value = pickle.loads(data)
    if kind == "error":
        raise ChildError(value)
    return value


def run_to_death(
    fn: Callable[[], Any],
    *,
    env: Mapping[str, str | None],
    arm: Callable[[], None] | None = None,
    kill_after: float | None = None,
    timeout: float = 120,
) -> Ended:
    """Run `fn()` in a child that is meant to die by SIGKILL: from inside (`arm` installs kill points)
    or from outside after `kill_after` seconds. Returns how it ended; a child that outlives `timeout` is killed.
    """
    assert_fork_safe()
    started = time.monotonic()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        code, message = 0, b""
        try:
            child_env(env)
            if arm is not None:
                arm()
            fn()
        except BaseException:
            code, message = 1, traceback.format_exc().encode()
        try:
            os.write(write_fd, message[-8000:])
        finally:
            os._exit(code)
    os.close(write_fd)
    try:
        status = None
        if kill_after is not None:
            _, status = _wait(pid, kill_after)
            if status is None:
                os.kill(pid, signal.SIGKILL)
        if status is None:
            _, status = _wait(pid, timeout)
        if status is None:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
        error = os.read(read_fd, 8000).decode(errors="replace") or None
    finally:
        os.close(read_fd)
    seconds = time.monotonic() - started
    if os.WIFSIGNALED(status):
        return Ended(killed=os.WTERMSIG(status) == signal.SIGKILL, exit_code=None, seconds=seconds, error=error)
    return Ended(killed=False, exit_code=os.WEXITSTATUS(status), seconds=seconds, error=error)


def _wait(pid: int, seconds: float) -> tuple[int, int | None]:
    """Wait up to `seconds` for the child; (pid, status) or (0, None) when it still runs."""
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return done, status
        left = deadline - time.monotonic()
        if left <= 0:
            return 0, None
        time.sleep(min(0.002, left))


def in_children(jobs: list[Callable[[int], Any]], *, workers: int, timeout: float = 300) -> list[Any]:
    """Run each job in a forked child, at most `workers` at once; job(slot) gets a slot number < workers.

    Returns the results in job order; a job that raised gives a ChildError in its place.
    """
    results: list[Any] = [None] * len(jobs)
    waiting = list(enumerate(jobs))
    free = list(range(max(1, workers)))[::-1]
    running: dict[int, tuple[int, int, int, list[bytes], float]] = {}  # fd -> (pid, job, slot, chunks, deadline)
    while waiting or running:
        while waiting and free:
            index, job = waiting.pop(0)
            slot = free.pop()
            assert_fork_safe()
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                _answer_and_exit(write_fd, lambda job=job, slot=slot: job(slot))
            os.close(write_fd)
            running[read_fd] = (pid, index, slot, [], time.monotonic() + timeout)
        ready, _, _ = select.select(list(running), [], [], 1.0)
        for fd in ready:
            pid, index, slot, chunks, _ = running[fd]
            chunk = os.read(fd, 1 << 16)
            if chunk:
                chunks.append(chunk)
                continue
            os.close(fd)
            os.waitpid(pid, 0)
            del running[fd]
            free.append(slot)
            data = b"".join(chunks)
            kind, value = pickle.loads(data) if data else ("error", f"child {pid} died without an answer")
            results[index] = value if kind == "ok" else ChildError(value)
        for fd, (pid, index, slot, _, deadline) in list(running.items()):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                os.close(fd)
                del running[fd]
                free.append(slot)
                results[index] = ChildError(f"child {pid} did not finish within {timeout:.0f} s; killed")
    return results
