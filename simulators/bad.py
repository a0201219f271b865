"""Bad-record injection: which rows go bad, how, and the manifest tests reconcile against.

Every kind of damage is derived from the contract (which field carries a check character, which
fields are dates, enumerations, region codes...), so the damage always violates a contract check.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from quality.codes._scalar import USCC_ALPHABET
from schemas import Contract, Field
from simulators._vocab import UNKNOWN_REGIONS

__all__ = ["BAD_KINDS", "FILE_BAD_KINDS", "BadKind", "BadRecord", "count_by_kind"]

BadKind = Literal["check_char", "impossible_date", "missing_required", "unknown_code", "duplicate_key", "broken_row"]
BAD_KINDS: tuple[BadKind, ...] = ("check_char", "impossible_date", "missing_required", "unknown_code")
FILE_BAD_KINDS: tuple[BadKind, ...] = (*BAD_KINDS, "duplicate_key", "broken_row")
_ID_CHECKS = "10X98765432"
_BAD_DAYS = ("-02-30", "-02-31", "-04-31", "-06-31", "-09-31", "-11-31")


@dataclass(frozen=True)
class BadRecord:
    """One injected bad record: which resource, what damage, which row (by key) and field."""

    resource: str
    kind: BadKind
    key: str | None
    field: str | None
    value: Any = None
    file: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: (str(v) if k == "value" and v is not None else v) for k, v in asdict(self).items()}


def count_by_kind(bad: Iterable[BadRecord], *, resource: str | None = None) -> dict[str, int]:
    """Count injected bad records per kind (optionally of one resource)."""
    return dict(Counter(b.kind for b in bad if resource is None or b.resource == resource))


def plan(rng: np.random.Generator, n: int, share: float, kinds: Sequence[BadKind]) -> dict[BadKind, np.ndarray]:
    """Pick `round(n * share)` distinct rows and split them evenly across `kinds`."""
    total = min(n, round(n * share))
    rows = rng.choice(n, size=total, replace=False) if total else np.empty(0, dtype=np.int64)
    return {kind: np.sort(rows[i :: len(kinds)]) for i, kind in enumerate(kinds)}


def check_char_field(contract: Contract) -> Field:
    """The first field validated by a national check character (GB 11643 or GB 32100)."""
    return next(f for f in contract.fields if any(c.rule in ("gb11643", "gb32100") for c in f.checks))


def date_field(contract: Contract) -> Field:
    """The first required date field."""
    return next(f for f in contract.fields if f.type == "date" and f.required)


def missing_field(contract: Contract) -> Field:
    """The first required, non-key string field without a code table: blanked by `missing_required`."""
    return next(
        f
        for f in contract.fields
        if f.required
        and f.type == "string"
        and f.name not in contract.primary_key
        and not any(c.rule in ("enum", "gb11643", "gb32100", "references") for c in f.checks)
    )


def code_fields(contract: Contract) -> list[Field]:
    """Fields checked against a code table or the GB/T 2260 region list."""
    return [f for f in contract.fields if any(c.rule in ("enum", "gb2260") for c in f.checks)]


def wrong_check_char(code: str, rule: str) -> str:
    """The same code with a different (wrong) last character from its alphabet (`rule`: gb11643/gb32100)."""
    alphabet = _ID_CHECKS if rule == "gb11643" else USCC_ALPHABET
    return code[:-1] + alphabet[(alphabet.index(code[-1]) + 1) % len(alphabet)]


def check_rule(field: Field) -> str:
    """'gb11643' or 'gb32100': which check character a field carries."""
    return next(c.rule for c in field.checks if c.rule in ("gb11643", "gb32100"))


def impossible_date(value: str, i: int) -> str:
    """A 'YYYY-MM-DD' date that no calendar has, keeping the year of `value`."""
    return value[:4] + _BAD_DAYS[i % len(_BAD_DAYS)]


def unknown_code(contract: Contract, field: Field) -> str:
    """A value outside the field's code table (or a region code in no GB/T 2260 edition)."""
    for check in field.checks:
        if check.rule == "enum":
            codes = contract.code_tables[check.params["table"]].codes
            return next(c for c in ("99", "98", "ZZ", "X9", "0000") if c not in codes)
    return UNKNOWN_REGIONS[0]
