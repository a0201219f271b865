"""Keyed subject hashes: what the exchange log records instead of a citizen ID or company code.

`hs1:<key id>:<HMAC-SM3 hex>` of the canonical JSON of the subject's identifying values (the item's
`key` fields, e.g. `["430902199001011234"]`), under a hub secret. Without the secret, trying every ID
of a county and birth year recovers nothing; with it, the hub finds every exchange about a subject
("who used my data") by recomputing the hash under each key it holds (`subject_hashes`) and looking
it up in the `(subject_hash, seq)` index.

Keys and rotation: the current key is `GOVHUB_SUBJECT_HASH_KEY` or `<keys>/subject-hash.key` (32
random bytes, made once, mode 0600). `rotate` renames the current file to
`subject-hash-<key id>.retired.key` and makes a new one: new events carry the new key id, searches
hash under every key (current and retired), so old events stay findable. Removing a retired key makes
the events hashed under it unfindable for good (a deliberate forgetting). Events recorded before keyed
hashes (64 hex characters, an unkeyed SM3 of the whole subject) are left as they are: they sit in
hashed, signed events and cannot be rewritten without breaking the chain; archive them (`govhub log
archive`) to take them off the live database.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from exchange.crypto import canonical_json, sm3_hex

__all__ = ["PREFIX", "SubjectKeys", "hash_values", "subject_hash", "subject_hashes"]

PREFIX = "hs1"
_CURRENT = "subject-hash.key"


def _key_id(secret: bytes) -> str:
    return sm3_hex(b"govhub-subject-key:" + secret)[:8]


@dataclass(frozen=True)
class SubjectKeys:
    """The hub's subject-hash keys: the current one (hashes new events) and retired ones (searches only)."""

    current: bytes
    retired: tuple[bytes, ...] = ()

    @property
    def key_id(self) -> str:
        """The id recorded with every hash made under the current key."""
        return _key_id(self.current)

    @classmethod
    def load(cls, keys_dir: Path, *, secret: str | None = None) -> SubjectKeys:
        """The keys in `keys_dir` (the current file is made on first use), or `secret` as the current key."""
        keys_dir = Path(keys_dir)
        retired = tuple(p.read_bytes() for p in sorted(keys_dir.glob("subject-hash-*.retired.key")))
        if secret:
            return cls(secret.encode("utf-8"), retired)
        path = keys_dir / _CURRENT
        if not path.exists():
            keys_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_bytes(32))
        return cls(path.read_bytes(), retired)

    @staticmethod
    def rotate(keys_dir: Path) -> str:
        """Retire the current key file and make a new one; returns the new key id."""
        path = Path(keys_dir) / _CURRENT
        if path.exists():
            old = path.read_bytes()
            path.rename(path.with_name(f"subject-hash-{_key_id(old)}.retired.key"))
        return SubjectKeys.load(keys_dir).key_id


def _values(subject: str | Sequence[str]) -> list[str]:
    """`"a b"` or `["a", "b"]` -> `["A", "B"]`: the identifying values in the item's key order, trimmed and
    upper-cased (an ID's check character `x` and `X` are one subject)."""
    values = str(subject).split() if isinstance(subject, str) else [str(v) for v in subject]
    return [v.strip().upper() for v in values]


def _mac(secret: bytes, values: list[str]) -> str:
    return hmac.new(secret, canonical_json(values), "sm3").hexdigest()


def subject_hash(subject: str | Sequence[str], *, keys: SubjectKeys) -> str:
    """The keyed hash recorded for a subject: `hs1:<key id>:<HMAC-SM3 hex>` under the current key."""
    return f"{PREFIX}:{keys.key_id}:{_mac(keys.current, _values(subject))}"


def subject_hashes(subject: str | Sequence[str], *, keys: SubjectKeys) -> list[str]:
    """Every hash the subject may carry in the log (current and retired keys): search with `IN (...)`.

    A citizen ID (`"430902199001011234"`) or company code finds every exchange keyed on it; a composite
    key (a receipt's code and number) is given as its values in the item's key order (or space-separated).
    """
    values = _values(subject)
    return [f"{PREFIX}:{_key_id(k)}:{_mac(k, values)}" for k in _unique((keys.current, *keys.retired))]


def hash_values(values: Iterable[str], *, keys: SubjectKeys) -> list[str]:
    """`subject_hash([value])` of many single-valued subjects under the current key, one HMAC set up once.

    The same strings `subject_hash` gives (an ID number or company code alone), at a fraction of the cost
    per value: the keyed state is copied instead of rebuilt (indexing a version's change feed).
    """
    base = hmac.new(keys.current, digestmod="sm3")
    head = f"{PREFIX}:{keys.key_id}:"
    out = []
    for value in values:
        text = str(value).strip().upper()
        mac = base.copy()
        mac.update(_one_value_json(text))
        out.append(head + mac.hexdigest())
    return out


def _one_value_json(text: str) -> bytes:
    """`canonical_json([text])`, without the general encoder for the plain ASCII of ID numbers and codes."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return b'["' + text.encode("ascii") + b'"]'
    return canonical_json([text])


def _unique(secrets_: Iterable[bytes]) -> list[bytes]:
    seen: list[bytes] = []
    for key in secrets_:
        if key not in seen:
            seen.append(key)
    return seen
