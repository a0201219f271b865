"""Rate limits shared between worker processes through Redis (db 9), and the fallback while Redis is down."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import uuid
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from limits import RateLimitItemPerMinute

from core.rate_limits import Limiter
from exchange.verify.clients import RateLimiter
from web.monitor.throttle import SignInThrottle

REDIS = "redis://127.0.0.1:6379/9"
T = TypeVar("T")


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS, socket_connect_timeout=0.5).ping())
    except Exception:
        return False


needs_redis = pytest.mark.skipif(not _redis_up(), reason="Redis is not running at 127.0.0.1:6379")


@pytest.fixture
def key() -> Iterator[str]:
    """A key no other run shares; its counters are removed afterwards."""
    name = f"wt-std-libs-test-{uuid.uuid4().hex}"
    yield name
    if _redis_up():
        import redis

        client = redis.Redis.from_url(REDIS)
        for found in client.scan_iter(f"*{name}*"):
            client.delete(found)


def _verify_worker(key: str) -> int:
    """One web worker's verification limiter: how many of 30 subjects it let through."""
    limiter = RateLimiter(REDIS)
    return sum(limiter.allow(key, 30) for _ in range(30))


def _sign_in_worker(key: str) -> list[bool]:
    """One web worker's sign-in throttle: whether each of five failures reached a limit."""
    throttle = SignInThrottle(REDIS)
    return [throttle.failed(key, "10.0.0.1") is not None for _ in range(5)]


def _in_workers(function: Callable[[str], T], key: str, count: int) -> list[T]:
    """Run `function(key)` in `count` worker processes at once (forked, as uvicorn's workers are).

    Each worker starts with SIGTERM's default action: a handler this test process inherited (Airflow's task
    runner installs one when a DAG test ran here first) would keep the pool's SIGTERM from ending it.
    """
    pool = multiprocessing.get_context("fork").Pool(
        count, initializer=signal.signal, initargs=(signal.SIGTERM, signal.SIG_DFL)
    )
    with pool:
        return pool.map(function, [key] * count)


@pytest.mark.services
@needs_redis
def test_two_worker_processes_share_one_verification_limit(key: str) -> None:
    allowed = _in_workers(_verify_worker, key, 2)
    assert sum(allowed) == 30, allowed  # not 60: each worker alone would have allowed 30
    assert RateLimiter(REDIS).allow(key, 30) is False
    assert RateLimiter("memory://").allow(key, 30) is True  # per process without Redis


@pytest.mark.services
@needs_redis
def test_sign_in_failures_in_one_worker_throttle_the_other(key: str) -> None:
    (first,) = _in_workers(_sign_in_worker, key, 1)
    assert first == [False, False, False, False, True]  # the fifth failure reaches the back-off tier
    blocked = SignInThrottle(REDIS).blocked(key, "10.0.0.2")
    assert blocked is not None and (blocked.scope, blocked.tier) == ("account", "backoff")
    assert 1 <= blocked.retry_after <= 60
    assert SignInThrottle("memory://").blocked(key, "10.0.0.2") is None


def test_an_unreachable_storage_counts_in_the_process_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    limiter = Limiter("redis://:secret@127.0.0.1:1/9")  # nothing listens on port 1
    item = RateLimitItemPerMinute(2)
    with caplog.at_level(logging.WARNING, logger="core.rate_limits"):
        assert [limiter.hit(item, "client") for _ in range(3)] == [True, True, False]
        assert limiter.test(item, "client") is False
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "unreachable" in warnings[0]
    assert "secret" not in warnings[0] and "***@127.0.0.1:1/9" in warnings[0]


def test_the_verification_limit_takes_batches_whole() -> None:
    limiter = RateLimiter()
    assert limiter.allow("c", 10, cost=8) is True
    assert limiter.allow("c", 10, cost=3) is False  # would exceed: nothing is counted
    assert limiter.allow("c", 10, cost=2) is True
    assert limiter.allow("c", 10) is False
    assert limiter.allow("other", 10, cost=10) is True
