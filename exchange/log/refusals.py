"""Refusals without a valid key, aggregated: one exchange-log event per client address and window, with a count.

Anyone can send requests without a key; logging each one would let them pad the log (and its unsigned
tail) at will. `RefusalWindow` counts them per address and writes one `denial` event when the
address's window ends (`rows` = how many were refused; details: the window, the codes, statuses, a
few paths and what the keys presented were: their id prefix and fingerprint, `presented_key`), and
answers "over the limit" once an address passed `limit` in its window, so callers answer 429 instead.
Windows that ended are written on the next refusal from anyone, by `flush()` (the web app's maintenance
thread, every minute) and at shutdown (`flush(everything=True)`); at most `max_addresses` windows are
held, the oldest written first when more arrive.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from catalog import utcnow

__all__ = ["RefusalWindow", "presented_key"]

log = logging.getLogger(__name__)

Append = Callable[[Sequence[Mapping[str, Any]]], None]
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def presented_key(key: str | None) -> dict[str, str]:
    """What an auditor may keep of a key that did not check out: its id prefix (the part before the secret:
    a client id, or `gh.<department code>`) and a fingerprint (the first 16 hex digits of its SHA-256), which
    matches a leaked or revoked key without storing it. Empty for no key."""
    if not key:
        return {}
    evidence = {"key_fingerprint": hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:16]}
    parts = key.split(".")
    prefix = ".".join(parts[:2]) if parts[0] == "gh" and len(parts) == 3 else parts[0] if len(parts) > 1 else ""
    if prefix and all(_KEY_ID.match(p) for p in prefix.split(".")):
        evidence["key_id"] = prefix
    return evidence


@dataclass
class _Window:
    started: datetime
    opened: float
    count: int = 0
    over_limit: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    paths: list[str] = field(default_factory=list)
    claimed: set[str] = field(default_factory=set)
    keys: dict[str, str] = field(default_factory=dict)  # fingerprint -> id prefix ("" when none)


class RefusalWindow:
    """Per-address windows of refusals without a valid key; `append` writes the aggregated events."""

    def __init__(
        self,
        append: Append,
        *,
        window: float = 60.0,
        limit: int = 30,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._append = append
        self.window = window
        self.limit = limit
        self.max_addresses = max_addresses
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}
        self.written = 0  # events written (figures)

    def note(
        self,
        address: str | None,
        *,
        code: str,
        status: int,
        path: str,
        claimed: str | None = None,
        key: str | None = None,
    ) -> bool:
        """Count one refusal from `address` (and the key it presented, see `presented_key`); False when the
        address is over its limit (answer 429)."""
        evidence = presented_key(key)
        address = (address or "unknown")[:64]
        now = self._clock()
        with self._lock:
            due = self._take_due(now)
            current = self._windows.get(address)
            if current is None:
                if len(self._windows) >= self.max_addresses:
                    oldest = min(self._windows, key=lambda a: self._windows[a].opened)
                    due.append((oldest, self._windows.pop(oldest)))
                current = self._windows[address] = _Window(started=utcnow(), opened=now)
            current.count += 1
            allowed = current.count <= self.limit
            if not allowed:
                current.over_limit += 1
            current.codes[code[:64]] += 1
            current.statuses[str(status)] += 1
            if len(current.paths) < 5 and path[:200] not in current.paths:
                current.paths.append(path[:200])
            if claimed and len(current.claimed) < 5:
                current.claimed.add(claimed[:32])
            if evidence and len(current.keys) < 5:
                current.keys[evidence["key_fingerprint"]] = evidence.get("key_id", "")
        self._write(due)
        return allowed

    def flush(self, *, everything: bool = False) -> int:
        """Write the windows that ended (all of them with `everything`); returns how many events were written."""
        with self._lock:
            due = self._take_due(None if everything else self._clock())
        return self._write(due)

    def _take_due(self, now: float | None) -> list[tuple[str, _Window]]:
        ended = [a for a, w in self._windows.items() if now is None or now - w.opened >= self.window]
        return [(a, self._windows.pop(a)) for a in ended]

    def _write(self, due: list[tuple[str, _Window]]) -> int:
        if not due:
            return 0
        events = [self._event(address, w) for address, w in due]
        try:
            self._append(events)
        except Exception:  # a refusal stands even when the log cannot take its count
            log.exception("%s aggregated refusal event(s) could not be written to the exchange log", len(events))
            return 0
        self.written += len(events)
        return len(events)

    def _event(self, address: str, w: _Window) -> dict[str, Any]:
        ended = w.started + timedelta(seconds=self.window)
        details: dict[str, Any] = {
            "address": address,
            "count": w.count,
            "over_limit": w.over_limit,
            "window_start": w.started.isoformat(timespec="seconds"),
            "window_end": min(ended, utcnow()).isoformat(timespec="seconds"),
            "codes": dict(w.codes),
            "statuses": dict(w.statuses),
            "paths": w.paths,
        }
        if w.claimed:
            details["claimed_departments"] = sorted(w.claimed)
        if w.keys:
            details["keys"] = [{"key_fingerprint": f, "key_id": i} for f, i in sorted(w.keys.items())]
        top = w.codes.most_common(1)[0][0]
        return {
            "type": "denial",
            "source": "hub",
            "target": f"address:{address}",
            "outcome": "denied",
            "error_code": top,
            "rows": w.count,
            "details": details,
        }
