"""Identifiers the hub mints: random ones for events and answers, short suffixes for names."""

from __future__ import annotations

import uuid

__all__ = ["new_id", "short_suffix"]


def new_id() -> str:
    """A random UUID (version 4) as text: event ids, answer ids."""
    return str(uuid.uuid4())


def short_suffix(length: int = 8) -> str:
    """Random lowercase hex of `length` characters that keeps file and run names apart."""
    if not 1 <= length <= 32:
        raise ValueError(f"short_suffix length must be 1 to 32, got {length}")
    return uuid.uuid4().hex[:length]
