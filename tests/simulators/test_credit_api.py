from __future__ import annotations

import json
import time

import httpx
import pytest

from simulators.testing import running_credit_api

PATH = "/api/v1/credit-records"


@pytest.fixture(scope="module")
def api(home):
    with running_credit_api(home, token="t0k", rate_limit=1000) as sim:
        yield sim


def _get(sim, token="t0k", **params):
    return httpx.get(sim.base_url + PATH, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=5)


def test_auth(api):
    assert _get(api, token="wrong").status_code == 401
    r = httpx.get(api.base_url + PATH, timeout=5)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"


def test_paging_covers_everything_once_in_order(api, home):
    seen, cursor = [], None
    while True:
        r = _get(api, limit=37, **({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200
        body = r.json()
        seen += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len({x["record_id"] for x in seen}) == home.counts["credit_record"]
    keys = [(x["updated_at"], x["record_id"]) for x in seen]
    assert keys == sorted(keys)
    assert all(x["updated_at"].endswith("Z") and isinstance(x["deleted"], bool) for x in seen)
    since = seen[100]["updated_at"]
    later = _get(api, updated_since=since, limit=1000).json()["data"]
    assert later[0]["updated_at"] == since and len(later) == len([k for k in keys if k[0] >= since])


def test_rate_limit_429_with_retry_after(home):
    with running_credit_api(home, token="t", rate_limit=3) as sim:
        codes = [_get(sim, token="t", limit=1) for _ in range(6)]
        limited = [r for r in codes if r.status_code == 429]
        assert limited and int(limited[0].headers["Retry-After"]) >= 1


@pytest.mark.parametrize("mode", ["error503", "garbled", "truncated"])
def test_fault_modes(api, mode):
    r = httpx.post(
        api.base_url + "/admin/faults",
        json={"mode": mode, "after_requests": 1, "count": 1},
        headers={"X-Admin-Token": "admin"},
        timeout=5,
    )
    assert r.status_code == 200
    assert _get(api, limit=5).status_code == 200  # the one normal request
    bad = _get(api, limit=5)
    if mode == "error503":
        assert bad.status_code == 503 and bad.headers["Retry-After"]
    else:
        with pytest.raises(ValueError):  # JSONDecodeError or UnicodeDecodeError
            json.loads(bad.content)
    assert _get(api, limit=5).status_code == 200  # count exhausted


def test_admin_needs_token_and_hang_times_out(api):
    assert httpx.post(api.base_url + "/admin/faults", json={"mode": "hang"}, timeout=5).status_code == 403
    api.set_fault("hang", count=1)
    start = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(api.base_url + PATH, headers={"Authorization": "Bearer t0k"}, timeout=0.5)
    assert time.monotonic() - start < 5
    api.set_fault("ok")
