"""Sign-in throttling: failed attempts slow down, then lock out, per account and per client address.

Counted with the `limits` library (moving windows, `core.rate_limits`) on the storage
`GOVHUB_RATE_LIMIT_STORAGE` names (`memory://` per process by default; `redis://host:6379/N` shares the
counts between workers, and while Redis is down each worker counts alone).
Only failures count. Two tiers per key:

| tier | account (user name or claimed department) | address |
|---|---|---|
| back-off | 5 failures a minute: wait out the minute | 20 a minute |
| lock-out | 10 failures in 15 minutes: locked until the window frees | 50 in 15 minutes |

While a key is over a limit the password is not even checked (the right one is refused too), and the
answer is 429 with Retry-After. Per-account lock-out lets anyone lock an administrator out for 15
minutes; that is the price of stopping password guessing, and the per-address tier stops one address
from doing it again and again.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

from limits import RateLimitItem, parse

from core.rate_limits import Limiter

__all__ = ["Blocked", "SignInThrottle"]

_TIERS: dict[str, dict[str, RateLimitItem]] = {
    "account": {"backoff": parse("5/minute"), "lockout": parse("10/15 minutes")},
    "address": {"backoff": parse("20/minute"), "lockout": parse("50/15 minutes")},
}


@dataclass(frozen=True)
class Blocked:
    """Why a sign-in is refused before its password is checked, and for how long."""

    scope: Literal["account", "address"]
    tier: Literal["backoff", "lockout"]
    retry_after: int


class SignInThrottle:
    """Counts failed sign-ins per account and per address and says when to refuse."""

    def __init__(self, storage_uri: str = "memory://") -> None:
        self._limiter = Limiter(storage_uri)

    def _keys(self, account: str, address: str) -> list[tuple[str, str, str, RateLimitItem]]:
        values = {"account": account, "address": address}
        return [
            (scope, tier, values[scope], item)
            for tier in ("lockout", "backoff")
            for scope, items in _TIERS.items()
            for name, item in items.items()
            if name == tier
        ]

    def blocked(self, account: str, address: str) -> Blocked | None:
        """The tightest limit this attempt is over (lock-out first), or None when it may go ahead."""
        for scope, tier, value, item in self._keys(account, address):
            if not self._limiter.test(item, "govhub-signin", scope, value):
                reset = self._limiter.reset_time(item, "govhub-signin", scope, value)
                return Blocked(scope, tier, max(1, math.ceil(reset - time.time())))  # type: ignore[arg-type]
        return None

    def failed(self, account: str, address: str) -> Blocked | None:
        """Count a failure; returns the limit this failure just reached (to audit a lock-out once)."""
        reached = None
        for scope, tier, value, item in self._keys(account, address):
            self._limiter.hit(item, "govhub-signin", scope, value)
            if reached is None and not self._limiter.test(item, "govhub-signin", scope, value):
                reset = self._limiter.reset_time(item, "govhub-signin", scope, value)
                reached = Blocked(scope, tier, max(1, math.ceil(reset - time.time())))  # type: ignore[arg-type]
        return reached

    def succeeded(self, account: str) -> None:
        """A right password forgets the account's failures (the address keeps its count)."""
        for item in _TIERS["account"].values():
            self._limiter.clear(item, "govhub-signin", "account", account)
