"""Approval-system clients (审批系统) of the verification API: keys stored hashed, grants, rate limits.

A key looks like ``<client id>.<43 random url-safe characters>`` (256 bits). Only a salted scrypt hash
is stored; checks compare in constant time. Because scrypt costs ~50 ms on purpose, a verified key is
remembered in memory for `cache_seconds` under its SHA-256 (a high-entropy key needs no stretching
for that), so the hot path does one dict lookup; deactivation or rotation takes effect within that time.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from limits import RateLimitItem, RateLimitItemPerMinute
from sqlalchemy import JSON, Boolean, DateTime, Engine, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from catalog import Base, utcnow
from catalog.credentials import hash_secret, secret_matches
from core.rate_limits import Limiter

__all__ = [
    "DEMO_CLIENTS",
    "ClientInfo",
    "ClientRegistry",
    "RateLimiter",
    "VerificationAnswerRecord",
    "VerificationClient",
    "check_key",
    "hash_key",
    "register_client",
    "rotate_key",
    "seed_demo_clients",
]


class VerificationClient(Base):
    """A registered approval system: who it is, its hashed key, the items granted to it, its rate limit."""

    __tablename__ = "verification_client"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    department: Mapped[str | None] = mapped_column(String(128), nullable=True)
    key_hash: Mapped[str] = mapped_column(String(255))
    allowed_items: Mapped[list] = mapped_column(JSON)
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer, default=600)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class VerificationAnswerRecord(Base):
    """A sealed answer as issued, for the counter page (窗口办) and later look-up by answer id."""

    __tablename__ = "verification_answer"

    answer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    item: Mapped[str] = mapped_column(String(64))
    case_number: Mapped[str] = mapped_column(String(80), index=True)
    version: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[str] = mapped_column(String(32))
    document: Mapped[str] = mapped_column(Text)  # canonical JSON of the sealed answer


@dataclass(frozen=True)
class ClientInfo:
    """A detached snapshot of a client for the request path."""

    id: str
    name: str
    allowed_items: frozenset[str]
    rate_limit_per_minute: int
    active: bool


DEMO_CLIENTS: tuple[dict, ...] = (
    {
        "client_id": "bdc-yiyang",
        "name": "不动产登记系统（市不动产登记中心）",
        "department": "市自然资源和规划局",
        "allowed_items": [
            "identity_matches",
            "household_in_district",
            "person_alive",
            "same_household",
            "age_at_least",
            "payment_paid",
            "receipt_valid",
            "fee_item_paid",
        ],
    },
    {
        "client_id": "qykb-yiyang",
        "name": "企业开办一网通办",
        "department": "市市场监管局",
        "allowed_items": [
            "identity_matches",
            "no_blacklist",
            "entity_basic_info",
            "entity_in_business",
            "legal_rep_matches",
            "entity_in_district",
            "payment_paid",
        ],
    },
    {
        "client_id": "yczm-yiyang",
        "name": "烟草专卖证照延续",
        "department": "市烟草专卖局",
        "allowed_items": [
            "entity_in_business",
            "legal_rep_matches",
            "no_penalty_since",
            "permit_valid_on",
            "no_blacklist",
            "entity_basic_info",
            "entity_in_district",
        ],
    },
)


def hash_key(key: str) -> str:
    """Salted scrypt hash of a client key (the hub's one credential format, `catalog.credentials`)."""
    return hash_secret(key)


def check_key(key: str, stored: str) -> bool:
    """True when `key` hashes to `stored` (constant-time comparison); a malformed hash never matches."""
    try:
        return secret_matches(key, stored)
    except ValueError:
        return False


def _new_key(client_id: str) -> str:
    return f"{client_id}.{secrets.token_urlsafe(32)}"


def register_client(
    session: Session,
    *,
    client_id: str,
    name: str,
    allowed_items: Iterable[str],
    rate_limit_per_minute: int = 600,
    department: str | None = None,
) -> tuple[VerificationClient, str]:
    """Register a client and return it with its key (shown once; only the hash is kept)."""
    if "." in client_id or not client_id:
        raise ValueError(f"client id {client_id!r} must be non-empty and contain no '.'")
    key = _new_key(client_id)
    client = VerificationClient(
        id=client_id,
        name=name,
        department=department,
        key_hash=hash_key(key),
        allowed_items=sorted(set(allowed_items)),
        rate_limit_per_minute=rate_limit_per_minute,
        active=True,
    )
    session.add(client)
    session.flush()
    return client, key


def rotate_key(session: Session, client_id: str) -> str:
    """Give a client a new key (the old one stops working once caches expire) and return it."""
    client = session.get(VerificationClient, client_id)
    if client is None:
        raise KeyError(f"no verification client '{client_id}'")
    key = _new_key(client_id)
    client.key_hash = hash_key(key)
    session.flush()
    return key


def seed_demo_clients(session: Session, *, rate_limit_per_minute: int = 600) -> dict[str, str]:
    """Create (or re-key) the three demo approval systems; returns {client id: fresh key}."""
    keys: dict[str, str] = {}
    for spec in DEMO_CLIENTS:
        if session.get(VerificationClient, spec["client_id"]) is None:
            _, keys[spec["client_id"]] = register_client(session, rate_limit_per_minute=rate_limit_per_minute, **spec)
        else:
            keys[spec["client_id"]] = rotate_key(session, spec["client_id"])
    return keys


class ClientRegistry:
    """Authenticates client keys against the database, remembering verified keys for `cache_seconds`."""

    def __init__(self, engine: Engine, *, cache_seconds: float = 60.0) -> None:
        self._engine = engine
        self._ttl = cache_seconds
        self._cache: dict[bytes, tuple[float, ClientInfo]] = {}
        self._lock = threading.Lock()
        # one scrypt check per key at a time (the others wait for its result), and few at once in all:
        # each check takes 16 MB and a core's worth of time, so a burst must not multiply them
        self._checking: dict[bytes, threading.Lock] = {}
        self._checks = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))

    def authenticate(self, key: str | None) -> ClientInfo | None:
        """The active client holding `key`, or None (missing, malformed, wrong, inactive)."""
        if not key or len(key) > 200 or "." not in key:
            return None
        fingerprint = hashlib.sha256(key.encode("utf-8")).digest()
        info = self._remembered(fingerprint)
        if info is None:
            with self._lock:
                single_flight = self._checking.setdefault(fingerprint, threading.Lock())
            with single_flight:
                info = self._remembered(fingerprint)  # checked by the request we waited for
                if info is None:
                    with self._checks:
                        info = self._check(key)
                    if info is not None:
                        with self._lock:
                            self._cache[fingerprint] = (time.monotonic() + self._ttl, info)
            with self._lock:
                self._checking.pop(fingerprint, None)
        return info if info is not None and info.active else None

    def _remembered(self, fingerprint: bytes) -> ClientInfo | None:
        hit = self._cache.get(fingerprint)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def _check(self, key: str) -> ClientInfo | None:
        """The client whose stored hash matches `key` (scrypt), or None."""
        client_id = key.split(".", 1)[0]
        with Session(self._engine) as session:
            row = session.scalars(select(VerificationClient).where(VerificationClient.id == client_id)).first()
            if row is None or not check_key(key, row.key_hash):
                return None
            return ClientInfo(
                row.id, row.name, frozenset(row.allowed_items or ()), int(row.rate_limit_per_minute), bool(row.active)
            )

    def forget(self) -> None:
        """Drop remembered keys (after a rotation or deactivation, to apply it at once in this process)."""
        with self._lock:
            self._cache.clear()


class RateLimiter:
    """Subjects per minute per client, counted with `limits` (sliding window) where `storage_uri` says.

    `memory://` counts per process; the web app passes `GOVHUB_RATE_LIMIT_STORAGE`, so with
    `redis://...` all workers share one count per client (`core.rate_limits`). Bursts up to the limit;
    room frees smoothly over the minute, as the token bucket it replaced did. `limits` costs ~3-5 µs CPU
    a check in memory and ~40 µs with local Redis (the token bucket 0.6 µs), against ~2.4 ms an answer.
    """

    def __init__(self, storage_uri: str = "memory://") -> None:
        self._limiter = Limiter(storage_uri, strategy="sliding-window")
        self._items: dict[int, RateLimitItem] = {}

    def allow(self, client_id: str, limit: int, cost: int = 1) -> bool:
        """Count `cost` subjects for the client; False (counting nothing) when they exceed its limit."""
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = RateLimitItemPerMinute(limit)
        return self._limiter.hit(item, "govhub-verify", client_id, cost=cost)
