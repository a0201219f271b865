"""API mode: a department pulls its changes page by page, resumable by version.

The first page pins `to_version` (the current version) and the page token carries
(after_version, to_version, offset), so a paging sequence stays one consistent increment even when a
new version lands meanwhile. The last page says `next_after_version` = to_version: the next pull
starts there. Each page recomputes the net feed (simple, stateless); fine for increments, a snapshot
of millions of rows is better taken in file mode.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from core.time import beijing_today
from exchange.delivery.deliver import SubscriptionLike, delivery_view
from exchange.delivery.errors import DeliveryError
from exchange.delivery.feed import net_changes
from lake import Lake
from schemas import Contract

__all__ = ["ChangesPage", "decode_page_token", "encode_page_token", "pull_changes"]

MAX_LIMIT = 10_000
_MAX_TOKEN_CHARS = 200
_MAX_NUMBER = 2**53  # versions and offsets beyond JSON's exact integers are never ours
_BAD_TOKEN = "page_token is not valid (not one this hub issued, or it has expired); start again without a page_token"


@dataclass(frozen=True)
class ChangesPage:
    """One page of a pull: rows (masked, restricted), the pinned range and how to continue."""

    subscription_id: int
    resource: str
    after_version: int | None
    to_version: int | None
    rows: list[dict[str, Any]]
    total: int
    next_page_token: str | None
    next_after_version: int | None


def encode_page_token(after_version: int | None, to_version: int, offset: int) -> str:
    """An opaque page token (base64url JSON)."""
    raw = json.dumps({"a": after_version, "t": to_version, "o": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str) -> tuple[int | None, int, int]:
    """(after_version, to_version, offset) of a page token; DeliveryError when it is not one of ours.

    Every number must be a plain integer in range (-1 <= after < to <= 2**53, 0 <= offset <= 2**53;
    after -1 is the query's "before the first version");
    the message never repeats the token nor says anything about the server.
    """
    try:
        if len(token) > _MAX_TOKEN_CHARS:  # ours are under 100 characters
            raise ValueError("too long")
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after, to, offset = data["a"], data["t"], data["o"]
        if not all(_plain_int(v) for v in (to, offset)) or not (after is None or _plain_int(after)):
            raise ValueError("not integers")
        if not (0 <= offset <= _MAX_NUMBER and 0 <= to <= _MAX_NUMBER) or (after is not None and not -1 <= after < to):
            raise ValueError("out of range")
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as e:
        raise DeliveryError(_BAD_TOKEN, code="bad_page_token") from e
    return after, to, offset


def _plain_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def pull_changes(
    lake: Lake,
    contract: Contract,
    sub: SubscriptionLike,
    *,
    secret: bytes,
    after_version: int | None = None,
    page_token: str | None = None,
    limit: int = 1000,
) -> ChangesPage:
    """One page of `sub`'s changes after `after_version` (None: a snapshot), masked and restricted.

    Raises DeliveryError (code `not_granted`) for a subscription that is not granted (revoked,
    pending, refused) or not in api mode, and (code `after_version_ahead`, with `current_version`) for
    an `after_version` beyond the current version: a silent empty page would hide a wrong bookmark.
    """
    if sub.status != "granted":
        raise DeliveryError(
            f"subscription {sub.id} of department {sub.department_code} is {sub.status}; no changes are served",
            code="not_granted",
            subscription_id=sub.id,
            department=sub.department_code,
        )
    term = getattr(sub, "valid_until", None)  # 使用期限, inclusive, a Beijing date
    if term is not None and term < beijing_today():
        raise DeliveryError(
            f"subscription {sub.id} of department {sub.department_code} ended on {term}; no changes are served",
            code="not_granted",
            subscription_id=sub.id,
            department=sub.department_code,
        )
    if sub.delivery_mode != "api":
        raise DeliveryError(
            f"subscription {sub.id} is delivered by {sub.delivery_mode}, not pulled through the API",
            code="not_granted",
            subscription_id=sub.id,
            department=sub.department_code,
        )
    limit = max(1, min(limit, MAX_LIMIT))
    curated = lake.curated(contract)
    if page_token:
        after_version, to_version, offset = decode_page_token(page_token)
        current = curated.version()
        if current is None or to_version > current:  # a version the table never had
            raise DeliveryError(
                _BAD_TOKEN, code="bad_page_token", subscription_id=sub.id, department=sub.department_code
            )
    else:
        current = curated.version()
        offset = 0
        if after_version is not None and after_version > (-1 if current is None else current):
            where = "no version is published yet" if current is None else f"the current version is {current}"
            raise DeliveryError(
                f"after_version {after_version} is beyond what {contract.resource} has: {where}; pull with "
                "after_version at or below the current version, or without it for a snapshot",
                code="after_version_ahead",
                subscription_id=sub.id,
                department=sub.department_code,
                current_version=current,
            )
        if current is None or (after_version is not None and after_version >= current):
            return ChangesPage(sub.id, contract.resource, after_version, current, [], 0, None, after_version)
        to_version = current
    snapshot = after_version is None
    feed = net_changes(curated.changes(after_version=after_version, to_version=to_version), contract, snapshot=snapshot)
    view = delivery_view(feed, contract, sub, secret=secret)
    page = view.slice(offset, limit)
    end = offset + page.num_rows
    more = end < view.num_rows
    return ChangesPage(
        subscription_id=sub.id,
        resource=contract.resource,
        after_version=after_version,
        to_version=to_version,
        rows=page.to_pylist(),
        total=view.num_rows,
        next_page_token=encode_page_token(after_version, to_version, end) if more else None,
        next_after_version=None if more else to_version,
    )
