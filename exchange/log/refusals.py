"""Refusals without a valid key, aggregated: one exchange-log event per client address and window, with a count.

Anyone can send requests without a key; logging each one would let them pad the log (and its unsigned
tail) at will. `RefusalWindow` counts them per address and writes one `denial` event when the
address's window ends (`rows` = how many were refused; details: the window, the codes, statuses and a
few paths), and answers "over the limit" once an address passed `limit` in its window, so callers
answer 429 instead. Windows that ended are written on the next refusal from anyone, by `flush()` (the
web app's maintenance thread, every minute) and at shutdown (`flush(everything=True)`); at most
`max_addresses` windows are held, the oldest written first when more arrive.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from catalog import utcnow

__all__ = ["RefusalWindow"]

log = logging.getLogger(__name__)

Append = Callable[[Sequence[Mapping[str, Any]]], None]


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

    def note(self, address: str | None, *, code: str, status: int, path: str, claimed: str | None = None) -> bool:
        """Count one refusal from `address`; False when the address is over its limit (answer 429)."""
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
