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
        parts = [f"{kind}: {', '.join(cols)}" for kind, cols in
                 (("new", self.new), ("missing", self.missing), ("retyped", self.retyped)) if cols]  # fmt: skip
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
    found = connector.check_schema()
    drift = Drift(new=sorted(found.new), missing=sorted(found.missing), retyped=sorted(found.retyped),
                  policy=contract.schema_drift)  # fmt: skip
    if not (drift.new or drift.missing or drift.retyped):
        return None
    if contract.schema_drift == "freeze":
        column = (drift.new or drift.missing or drift.retyped)[0]
        change = "is new" if drift.new else "is missing" if drift.missing else "changed type"
        raise SchemaDriftError(contract.source.system, column, change)
    log.warning("%s: %s; policy %s", contract.resource, drift.message, contract.schema_drift)
    return drift
