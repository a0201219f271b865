"""The contract's dataset expectations as plain data, derived once per contract from `schemas/`.

Both engines read this one list: `quality.suite` turns it into a Great Expectations 1.x suite,
`quality.dataset_suite` evaluates its dataset-level part in Arrow on every increment. Each entry
is named by its GX expectation type and carries GX's keyword arguments, so the two engines' results
line up expectation by expectation.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

from schemas import Contract, QualityError

__all__ = ["ExpectationSpec", "expectation_specs"]


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation: its GX type (`expect_column_values_to_be_unique`), keyword arguments, severity, meta.

    `dataset_level` is True for what only a whole increment can show (row count, key uniqueness,
    null shares); the others (required, value sets, ranges) are also row rules of `quality.verdict`.
    """

    type: str
    kwargs: dict[str, Any]
    meta: dict[str, Any]
    severity: str = "critical"
    dataset_level: bool = False
    gx_class: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "gx_class", "".join(part.capitalize() for part in self.type.split("_")))


_CACHE: dict[int, tuple[Contract, tuple[ExpectationSpec, ...]]] = {}
_CACHE_LOCK = threading.Lock()


def expectation_specs(contract: Contract) -> tuple[ExpectationSpec, ...]:
    """The contract's expectations in suite order, derived once per contract object (cached)."""
    cached = _CACHE.get(id(contract))
    if cached is not None and cached[0] is contract:
        return cached[1]
    specs = tuple(_derive(contract))
    with _CACHE_LOCK:
        _CACHE[id(contract)] = (contract, specs)
    return specs


def _derive(contract: Contract) -> list[ExpectationSpec]:
    specs: list[ExpectationSpec] = []
    dataset = contract.dataset
    if "min_rows" in dataset:
        specs.append(
            ExpectationSpec(
                "expect_table_row_count_to_be_between",
                {"min_value": int(dataset["min_rows"]), "max_value": None},
                {"from": "dataset.min_rows"},
                dataset_level=True,
            )
        )
    for f in contract.fields:
        if f.required:
            specs.append(
                ExpectationSpec("expect_column_values_to_not_be_null", {"column": f.name}, {"from": "required"})
            )
    key = list(contract.primary_key)
    if len(key) == 1:
        specs.append(
            ExpectationSpec(
                "expect_column_values_to_be_unique", {"column": key[0]}, {"from": "primary_key"}, dataset_level=True
            )
        )
    else:
        specs.append(
            ExpectationSpec(
                "expect_compound_columns_to_be_unique",
                {"column_list": key},
                {"from": "primary_key"},
                dataset_level=True,
            )
        )
    for f in contract.fields:
        for check in f.checks:
            severity = "warning" if check.severity == "warn" else "critical"
            meta = {"from": f"checks.{check.rule}", "dimension": check.dimension}
            if check.rule == "enum":
                codes = sorted(contract.code_tables[check.params["table"]].codes)
                specs.append(
                    ExpectationSpec(
                        "expect_column_values_to_be_in_set", {"column": f.name, "value_set": codes}, meta, severity
                    )
                )
            elif check.rule == "range":
                low, high = (_bound(check.params.get(k), f.type) for k in ("min", "max"))
                specs.append(
                    ExpectationSpec(
                        "expect_column_values_to_be_between",
                        {"column": f.name, "min_value": low, "max_value": high},
                        meta,
                        severity,
                    )
                )
    for name, share in (dataset.get("max_null_share") or {}).items():
        if name not in contract.field_names:
            raise QualityError(f"{contract.file}: dataset.max_null_share names unknown field '{name}'")
        specs.append(
            ExpectationSpec(
                "expect_column_values_to_not_be_null",
                {"column": name, "mostly": round(1.0 - float(share), 6)},
                {"from": "dataset.max_null_share", "max_null_share": share},
                dataset_level=True,
            )
        )
    return specs


def _bound(raw: Any, kind: str) -> Any:
    if raw is None:
        return None
    if kind == "date":
        return raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))
    if kind == "integer":
        return int(raw)
    return float(raw)
