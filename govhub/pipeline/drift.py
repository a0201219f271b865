"""Schema drift at the source, handled as the contract says: evolve, freeze or quarantine."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from schemas import Contract, SchemaDriftError

__all__ = ["Drift", "apply_drift_policy"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Drift:
    """Columns the source has that the contract lacks, and the reverse, and retyped ones."""

    new: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    retyped: list[str] = field(default_factory=list)
    policy: str = "freeze"

    @property
    def quarantine(self) -> bool:
        return self.policy == "quarantine"

    @property
    def message(self) -> str:
        parts = [
            f"{kind}: {', '.join(cols)}"
            for kind, cols in (("new", self.new), ("missing", self.missing), ("retyped", self.retyped))
            if cols
        ]
        return "source schema drift (" + "; ".join(parts) + ")"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "quarantine": self.quarantine, "message": self.message}


def apply_drift_policy(contract: Contract, connector: Any) -> Drift | None:
    """Compare the source's columns with the contract; fail, carry on, or mark for quarantine.

    `freeze` raises SchemaDriftError naming the first drifted column; `quarantine` lets the run go
    on with every row quarantined (nothing reaches the curated table until the contract is updated);
    `evolve` carries on (new columns are ignored by the contract-typed pipeline, missing optional
    columns arrive as nulls, missing required ones are rejected row by row).
    """
    if getattr(connector, "checks_each_file", False):
        return None  # file drops: each file's header is judged as it is read; a drifted one is refused alone
    found = connector.check_schema()
    if not found.drifted:
        return None
    retyped = [f"{column} ({expected} -> {actual})" for column, expected, actual in found.retyped]
    drift = Drift(new=sorted(found.new), missing=sorted(found.missing), retyped=retyped, policy=contract.schema_drift)
    if contract.schema_drift == "freeze":
        if found.new or found.missing:
            column, change = (found.new[0], "is new") if found.new else (found.missing[0], "is missing")
        else:
            column, expected, actual = found.retyped[0]
            change = f"changed type from {expected} to {actual}"
        raise SchemaDriftError(contract.source.system, column, change)
    log.warning("%s: %s; policy %s", contract.resource, drift.message, contract.schema_drift)
    return drift
