"""What every connector shares: the Extraction (a one-shot stream of Arrow batches that proposes
the next state only once it is read to the end), source problems and schema-drift reports."""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pyarrow as pa

from schemas import Contract, StateError

__all__ = ["DEFAULT_BATCH_SIZE", "BatchRun", "Connector", "Extraction", "SchemaDiff", "SourceProblem"]

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 50_000

# A connector's run: a generator that yields batches, may append problems, and returns the next state.
BatchRun = Callable[[list["SourceProblem"]], Generator[pa.RecordBatch, None, dict[str, Any]]]


@dataclass(frozen=True)
class SourceProblem:
    """Something in the source that was not taken (a refused file, a file not ready yet).

    Reported, not fatal: the other files go on. `severity='info'` marks normal waiting states.
    """

    source: str
    name: str
    reason: str
    line: int | None = None
    severity: Literal["error", "info"] = "error"

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "name": self.name,
            "reason": self.reason,
            "line": self.line,
            "severity": self.severity,
        }


@dataclass(frozen=True)
class SchemaDiff:
    """The source's actual columns compared with the contract's.

    `columns` maps each actual column to its source type (empty when the source had nothing to
    look at, e.g. no file in the inbox: then `inspected` is False and no drift is reported).
    `retyped` holds (column, contract type, source type).
    """

    source: str
    columns: Mapping[str, str]
    new: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    retyped: tuple[tuple[str, str, str], ...] = ()
    inspected: bool = True

    @property
    def drifted(self) -> bool:
        return bool(self.new or self.missing or self.retyped)


class Extraction:
    """One read of a source: iterate it once for Arrow batches; then read `proposed_state`.

    The state is proposed only if the iterator ran to the end without error, so a failed or
    abandoned read can never advance a watermark. The connector never commits state itself.
    """

    def __init__(self, source: str, run: BatchRun) -> None:
        self.source = source
        self.rows = 0
        self.batches = 0
        self.problems: list[SourceProblem] = []
        self._run = run
        self._started = False
        self._complete = False
        self._state: dict[str, Any] | None = None

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        if self._started:
            raise StateError(f"source '{self.source}': an Extraction can be iterated only once; call extract() again")
        self._started = True
        gen = self._run(self.problems)
        try:
            while True:
                try:
                    batch = next(gen)
                except StopIteration as stop:
                    self._state = stop.value
                    self._complete = True
                    log.info("extracted %s rows in %s batches from %s", self.rows, self.batches, self.source)
                    return
                self.rows += batch.num_rows
                self.batches += 1
                yield batch
        finally:
            gen.close()  # release engines, files and clients also when the consumer stops early

    @property
    def complete(self) -> bool:
        """True once every batch was read without error."""
        return self._complete

    @property
    def proposed_state(self) -> dict[str, Any]:
        """The state to commit after the batches are safely stored; only after a complete read."""
        if not self._complete or self._state is None:
            raise StateError(
                f"source '{self.source}': no proposed state; the extraction was not read to the end "
                "(iterate it fully first; a failed read proposes nothing)"
            )
        return self._state

    def read_all(self) -> pa.Table | None:
        """Convenience for tests and small sources: every batch as one table (None when empty)."""
        batches = list(self)
        return pa.Table.from_batches(batches) if batches else None


class Connector:
    """Base class: holds the contract, the endpoint config and the batch size."""

    kind: str = ""
    # True when the connector judges each file's columns itself while reading (file drops: a drifted
    # file is refused, the others go on), so a source-wide `check_schema()` verdict must not stop the run.
    checks_each_file: ClassVar[bool] = False

    def __init__(self, contract: Contract, config: Mapping[str, Any], *, batch_size: int = DEFAULT_BATCH_SIZE):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.contract = contract
        self.config = dict(config)
        self.batch_size = batch_size
        self.source = f"{contract.source.system}/{contract.resource}"

    def extract(self, state: Mapping[str, Any] | None = None, *, batch_size: int | None = None) -> Extraction:
        """Read what changed since `state` (None: everything) as a lazy, one-shot Extraction."""
        size = batch_size or self.batch_size
        return Extraction(self.source, lambda problems: self._run(state, problems, size))

    def columns(self) -> dict[str, str]:
        """The source's actual columns and their types, as the source describes them."""
        raise NotImplementedError

    def check_schema(self) -> SchemaDiff:
        """Compare the source's columns with the contract's: new, missing and retyped columns."""
        raise NotImplementedError

    def _run(
        self, state: Mapping[str, Any] | None, problems: list[SourceProblem], batch_size: int
    ) -> Generator[pa.RecordBatch, None, dict[str, Any]]:
        raise NotImplementedError

    def _expected_columns(self) -> list[str]:
        names = self.contract.field_names
        flag = self.contract.source.deleted_flag
        return [*names, flag] if flag and flag not in names else names

    def _diff(self, actual: Mapping[str, str], compatible: Callable[[str, str], bool]) -> SchemaDiff:
        """Build a SchemaDiff; `compatible(contract_type, source_type)` decides retyping."""
        if not actual:
            return SchemaDiff(self.source, {}, inspected=False)
        expected = self._expected_columns()
        types = {f.name: f.type for f in self.contract.fields}
        flag = self.contract.source.deleted_flag
        if flag and flag not in types:
            types[flag] = "boolean"
        retyped = tuple(
            (name, types[name], actual[name])
            for name in expected
            if name in actual and not compatible(types[name], actual[name])
        )
        return SchemaDiff(
            self.source,
            dict(actual),
            new=tuple(c for c in actual if c not in expected),
            missing=tuple(c for c in expected if c not in actual),
            retyped=retyped,
        )
