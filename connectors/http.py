"""HTTP JSON sources (the credit platform): token auth, cursor paging, retries with backoff (tenacity).

Boundary rule: the state keeps the last (updated_at, key) seen; the next run asks for
`updated_since=<updated_at>` (inclusive) and drops records at or before that position, so
records sharing the boundary timestamp are neither missed nor repeated.
"""

from __future__ import annotations

import datetime as dt
import decimal
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any

import httpx
import pyarrow as pa
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from connectors.arrow_rows import deleted_array, state_value
from connectors.base import Connector, SchemaDiff, SourceProblem
from schemas import SettingsError, SourceError

__all__ = ["HttpConnector"]

log = logging.getLogger(__name__)


class _Transient(Exception):
    """A failed try a retry may cure: its cause, and the server's Retry-After (s) when it sent one."""

    def __init__(self, cause: str, retry_after: float | None = None) -> None:
        super().__init__(cause)
        self.cause = cause
        self.retry_after = retry_after


_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_NATIVE = {"integer": pa.int64(), "float": pa.float64(), "boolean": pa.bool_()}


class HttpConnector(Connector):
    """Pages through `GET {base_url}{source.endpoint}` with a bearer token.

    Config: `base_url`, `token` (required); `timeout` (s, 10), `max_retries` (4), `backoff` (base
    delay s, 0.5), `max_backoff` (s, 30), `max_retry_after` (cap on honoured Retry-After, s, 60),
    `page_size` (1000), `transport` (an httpx transport, for tests).
    """

    kind = "http"

    def __init__(self, contract, config, *, batch_size=50_000, sleep: Callable[[float], None] = time.sleep):  # type: ignore[no-untyped-def]
        super().__init__(contract, config, batch_size=batch_size)
        for key in ("base_url", "token"):
            if not self.config.get(key):
                raise SettingsError(f"{self.source}.{key}", "a non-empty value", self.config.get(key))
        self.endpoint = str(contract.source.options.get("endpoint", f"/{contract.resource}"))
        self.url = str(self.config["base_url"]).rstrip("/") + self.endpoint
        self.timeout = float(self.config.get("timeout", 10.0))
        self.max_retries = int(self.config.get("max_retries", 4))
        self.backoff = float(self.config.get("backoff", 0.5))
        self.max_backoff = float(self.config.get("max_backoff", 30.0))
        self.max_retry_after = float(self.config.get("max_retry_after", 60.0))
        self.page_size = int(self.config.get("page_size", 1000))
        self._sleep = sleep

    # ---- schema --------------------------------------------------------------------------

    def columns(self) -> dict[str, str]:
        """Keys of the first record and their JSON types (empty when the source has no records)."""
        with self._client() as client:
            page = self._get(client, {"limit": 1})
        return {k: _json_type(v) for k, v in page["data"][0].items()} if page["data"] else {}

    def check_schema(self) -> SchemaDiff:
        """New, missing and retyped keys of the first record compared with the contract."""
        return self._diff(self.columns(), _compatible)

    # ---- extraction ----------------------------------------------------------------------

    def _run(
        self, state: Mapping[str, Any] | None, problems: list[SourceProblem], batch_size: int
    ) -> Generator[pa.RecordBatch, None, dict[str, Any]]:
        cursor_field = self.contract.source.cursor
        after = _position(state.get("cursor"), state.get("key")) if state and state.get("cursor") else None
        params: dict[str, Any] = {"limit": self.page_size}
        if after is not None:
            params["updated_since"] = state["cursor"]
        best: tuple[tuple[Any, ...], dict[str, Any]] | None = None
        buffer: list[dict[str, Any]] = []
        pages = 0
        with self._client() as client:
            while True:
                page = self._get(client, params)
                pages += 1
                for record in page["data"]:
                    pos = _position(record.get(cursor_field), [record.get(k) for k in self.contract.primary_key])
                    if after is not None and pos is not None and pos <= after:
                        continue  # at or before the boundary: taken by an earlier run
                    buffer.append(record)
                    if pos is not None and (best is None or pos > best[0]):
                        best = (pos, record)
                    if len(buffer) >= batch_size:
                        yield self._batch(buffer)
                        buffer = []
                next_cursor = page.get("next_cursor")
                if not next_cursor:
                    break
                params = {**params, "cursor": next_cursor}
        if buffer:
            yield self._batch(buffer)
        log.info("%s: read %s pages from %s", self.source, pages, self.url)
        if best is None:
            return dict(state or {})
        record = best[1]
        return {
            "cursor": state_value(record[cursor_field]),
            "key": [state_value(record[k]) for k in self.contract.primary_key],
        }

    def _client(self) -> httpx.Client:
        return httpx.Client(
            headers={"Authorization": f"Bearer {self.config['token']}", "Accept": "application/json"},
            timeout=httpx.Timeout(self.timeout),
            transport=self.config.get("transport"),
        )

    def _get(self, client: httpx.Client, params: Mapping[str, Any]) -> dict[str, Any]:
        """One page, retried (tenacity) on timeouts, connection errors, 429/5xx and broken JSON."""
        attempts = self.max_retries + 1
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=self._delay,
            retry=retry_if_exception_type(_Transient),
            before_sleep=self._log_retry,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(self._get_once, client, params)
        except _Transient as e:
            raise SourceError(
                self.source, f"GET {self.url} failed after {attempts} attempts: {e.cause}", retryable=True
            ) from None

    def _get_once(self, client: httpx.Client, params: Mapping[str, Any]) -> dict[str, Any]:
        """One try at a page: the page, `_Transient` for what a retry may cure, `SourceError` otherwise."""
        try:
            response = client.get(self.url, params=params)
        except httpx.TimeoutException:
            raise _Transient(f"timed out after {self.timeout:g} s") from None
        except httpx.TransportError as e:
            raise _Transient(f"connection failed ({type(e).__name__}: {e})") from None
        status = response.status_code
        if status == 200:
            try:
                return _page(response.content)
            except ValueError as e:
                raise _Transient(f"invalid JSON in the response ({e})") from None
        if status in (401, 403):
            raise SourceError(self.source, f"GET {self.url} refused with HTTP {status}: check the token")
        if status in _RETRY_STATUS:
            raise _Transient(f"HTTP {status}", _retry_after(response.headers.get("Retry-After")))
        raise SourceError(self.source, f"GET {self.url} failed with HTTP {status}: {response.text[:200]}")

    def _delay(self, state: RetryCallState) -> float:
        """Exponential back-off with jitter (half to full), at least the server's Retry-After up to its cap."""
        delay = min(self.max_backoff, self.backoff * 2.0 ** (state.attempt_number - 1)) * random.uniform(0.5, 1.0)
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _Transient) and error.retry_after is not None:
            delay = max(delay, min(error.retry_after, self.max_retry_after))
        return delay

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s: GET %s attempt %s/%s: %s; retrying in %.2f s",
            self.source,
            self.url,
            state.attempt_number,
            self.max_retries + 1,
            error.cause if isinstance(error, _Transient) else error,
            state.next_action.sleep if state.next_action else 0.0,
        )

    def _batch(self, records: list[dict[str, Any]]) -> pa.RecordBatch:
        """Contract fields by name: strings for text, dates, timestamps and decimals (exact), JSON
        integers/floats/booleans natively; `_deleted` from the delete flag."""
        names, arrays = [], []
        for f in self.contract.fields:
            values = [r.get(f.name) for r in records]
            names.append(f.name)
            arrays.append(_column(values, _NATIVE.get(f.type, pa.string())))
        flag = self.contract.source.deleted_flag
        if flag:
            names.append("_deleted")
            arrays.append(deleted_array(_column([r.get(flag) for r in records], pa.bool_())))
        return pa.RecordBatch.from_arrays(arrays, names=names)


def _page(content: bytes) -> dict[str, Any]:
    payload = json.loads(content, parse_float=decimal.Decimal)
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        raise ValueError("expected an object with a 'data' list")
    if not all(isinstance(r, dict) for r in payload["data"]):
        raise ValueError("every item of 'data' must be an object")
    if payload.get("next_cursor") is not None and not isinstance(payload["next_cursor"], str):
        raise ValueError("'next_cursor' must be a string or null")
    return payload


def _column(values: list[Any], arrow_type: pa.DataType) -> pa.Array:
    if pa.types.is_string(arrow_type):
        texts = [v if v is None or isinstance(v, str) else _text(v) for v in values]
        try:
            return pa.array(texts, type=pa.string())
        except UnicodeEncodeError:
            # A lone UTF-16 surrogate escape ("\ud800") is valid JSON but no text: pass its bytes on as they
            # are, so the quality stage quarantines the record instead of the whole read failing on it.
            raw = [None if t is None else t.encode("utf-8", "surrogatepass") for t in texts]
            return pa.array(raw, type=pa.binary()).view(pa.string())
    try:
        return pa.array(values, type=arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        # The source sent another JSON type than the contract's: deliver text, the quality stage casts.
        return pa.array([v if v is None else _text(v) for v in values], type=pa.string())


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _position(cursor: Any, key: Any) -> tuple[Any, ...] | None:
    """A comparable (instant, key...) for a cursor value and key; None when the cursor is unusable."""
    if not isinstance(cursor, str):
        return None
    try:
        instant = dt.datetime.fromisoformat(cursor)
    except ValueError:
        return None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    return (instant, *(str(k) if k is not None else "" for k in (key or [])))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # unparseable: fall back to our own backoff
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float | decimal.Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _compatible(want: str, got: str) -> bool:
    accepted = {
        "string": {"string"},
        "date": {"string"},
        "timestamp": {"string"},
        "decimal": {"string", "number", "integer"},
        "float": {"number", "integer"},
        "integer": {"integer"},
        "boolean": {"boolean"},
    }
    return got == "null" or got in accepted[want]
