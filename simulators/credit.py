"""The credit platform's HTTP API: token auth, cursor paging, rate limits and switchable outages.

`GET /api/v1/credit-records?updated_since=&cursor=&limit=` answers `{"data": [...], "next_cursor": ...}`
ordered by (updated_at, record_id). Dates are 'YYYY-MM-DD' strings, `updated_at` ISO-8601 UTC with
microseconds and a 'Z', amounts decimal strings (or null), `deleted` a boolean.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import json
import logging
import math
import threading
import time
from pathlib import Path
from typing import Annotated, Any, Literal

import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from schemas import SourceError, load_contract
from simulators.registry import connect, reflect_table

__all__ = ["CreditSimulator", "FaultMode", "create_app"]

log = logging.getLogger(__name__)
FaultMode = Literal["ok", "error503", "hang", "garbled", "truncated"]
HANG_SECONDS = 30.0


class FaultSpec(BaseModel):
    mode: FaultMode = "ok"
    after_requests: int = 0
    count: int | None = None


class _State:
    """Mutable server state shared by the app and its Python handle."""

    def __init__(self, engine: sa.Engine, token: str, admin_token: str, rate_limit: float) -> None:
        self.engine, self.token, self.admin_token, self.rate_limit = engine, token, admin_token, rate_limit
        self.table = reflect_table(engine, "credit_record")
        self.lock = threading.Lock()
        self.fault = FaultSpec()
        self.hits: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)
        self.stopping = threading.Event()
        self.requests = 0

    def next_fault(self) -> FaultMode:
        """Count one API request and say which fault (or 'ok') it gets."""
        with self.lock:
            self.requests += 1
            f = self.fault
            if f.mode == "ok":
                return "ok"
            if f.after_requests > 0:
                f.after_requests -= 1
                return "ok"
            mode = f.mode
            if f.count is not None:
                f.count -= 1
                if f.count <= 0:
                    self.fault = FaultSpec()
            return mode

    def throttle(self, token: str) -> float | None:
        """Seconds to wait if `token` exceeded `rate_limit` requests in the last second, else None."""
        now = time.monotonic()
        with self.lock:
            hits = self.hits[token]
            while hits and hits[0] <= now - 1.0:
                hits.popleft()
            if len(hits) >= self.rate_limit:
                return hits[0] + 1.0 - now
            hits.append(now)
            return None


def _encode_cursor(updated_at: dt.datetime, record_id: str) -> str:
    raw = json.dumps({"u": updated_at.isoformat(timespec="microseconds"), "id": record_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return dt.datetime.fromisoformat(raw["u"]), str(raw["id"])


def _parse_since(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "+") if "T" in text else text)
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def _row_json(row: sa.Row, names: list[str], flag: str) -> dict[str, Any]:
    out = {n: getattr(row, n) for n in names}
    out["updated_at"] = out["updated_at"].isoformat(timespec="microseconds") + "Z"
    out["deleted"] = bool(getattr(row, flag))
    return out


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def create_app(state: _State) -> FastAPI:
    """The FastAPI app of the credit platform over `state` (engine, tokens, faults, rate limit)."""
    contract = load_contract("credit_record")
    names, flag = contract.field_names, contract.source.deleted_flag or "deleted"
    app = FastAPI(title="益阳市公共信用信息平台 (simulator)")
    t = state.table

    @app.get(contract.source.options["endpoint"])
    def credit_records(
        request: Request,
        updated_since: str | None = None,
        cursor: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Response:
        mode = state.next_fault()
        if mode == "error503":
            return _error(503, "unavailable", "credit platform under maintenance", {"Retry-After": "1"})
        if mode == "hang":
            state.stopping.wait(HANG_SECONDS)
            return _error(504, "timeout", "upstream hung")
        if mode == "garbled":
            return Response(
                b'{"data": [{"record_id": "XK\xfe\xff\x00 <html>502 Bad Gateway',
                media_type="application/json",
            )
        token = (authorization or "").removeprefix("Bearer ").strip()
        if not authorization or not authorization.startswith("Bearer ") or token != state.token:
            return _error(401, "unauthorized", "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
        wait = state.throttle(token)
        if wait is not None:
            retry = str(max(1, math.ceil(wait)))
            return _error(
                429,
                "rate_limited",
                f"more than {state.rate_limit:g} requests per second",
                {"Retry-After": retry},
            )
        query = sa.select(t).order_by(t.c.updated_at, t.c.record_id).limit(limit + 1)
        try:
            if updated_since:
                query = query.where(t.c.updated_at >= _parse_since(updated_since))
            if cursor:
                cu, cid = _decode_cursor(cursor)
                # the `>=` range lets the (updated_at, record_id) index seek instead of scanning from the start
                after = sa.or_(t.c.updated_at > cu, sa.and_(t.c.updated_at == cu, t.c.record_id > cid))
                query = query.where(t.c.updated_at >= cu, after)
        except (ValueError, KeyError, TypeError) as e:
            return _error(400, "bad_request", f"cannot parse updated_since/cursor: {e}")
        with state.engine.connect() as conn:
            rows = conn.execute(query).fetchall()
        page = rows[:limit]
        nxt = _encode_cursor(page[-1].updated_at, page[-1].record_id) if len(rows) > limit else None
        body = json.dumps({"data": [_row_json(r, names, flag) for r in page], "next_cursor": nxt}, ensure_ascii=False)
        data = body.encode()
        if mode == "truncated":
            data = data[: max(1, len(data) // 2)]
        return Response(data, media_type="application/json")

    @app.post("/admin/faults")
    def set_faults(spec: FaultSpec, x_admin_token: Annotated[str | None, Header()] = None) -> Response:
        if x_admin_token != state.admin_token:
            return _error(403, "forbidden", "missing or invalid X-Admin-Token")
        with state.lock:
            state.fault = spec
        return JSONResponse(spec.model_dump())

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


class CreditSimulator:
    """The credit platform as a running HTTP server (uvicorn in a background thread).

    `with CreditSimulator(db, token="t") as sim:` gives `sim.base_url`; `sim.set_fault("error503", count=2)`
    makes the next two requests fail. Binds a free port on 127.0.0.1 unless `port` is given.
    """

    def __init__(
        self,
        db_url_or_path: str | Path,
        *,
        token: str,
        rate_limit: float = 50.0,
        admin_token: str = "admin",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.state = _State(connect(db_url_or_path), token, admin_token, rate_limit)
        self.app = create_app(self.state)
        self.host, self.port = host, port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    def start(self) -> str:
        """Start serving; returns the base URL (e.g. 'http://127.0.0.1:54321')."""
        config = uvicorn.Config(self.app, host=self.host, port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="credit-simulator", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise SourceError("credit", f"simulator did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://{self.host}:{port}"
        log.info("credit simulator serving at %s", self.base_url)
        return self.base_url

    def stop(self) -> None:
        """Stop serving: hung requests are released, then the server thread is joined."""
        self.state.stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.state.engine.dispose()
        self.state.stopping.clear()

    def set_fault(self, mode: FaultMode, *, after_requests: int = 0, count: int | None = None) -> None:
        """After `after_requests` normal requests, answer the next `count` (None: all) with `mode`."""
        with self.state.lock:
            self.state.fault = FaultSpec(mode=mode, after_requests=after_requests, count=count)

    @property
    def requests(self) -> int:
        """API requests seen so far (faulty ones included)."""
        return self.state.requests

    def __enter__(self) -> CreditSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
