"""The commit guard: a curated commit lands at the version right after the one it was decided on, or not at all.

A run (or a compaction) reads the table, decides what to write against that version, and hands delta-rs
the table loaded AT that version with no commit retry (`max_commit_retries=0`). delta-rs writes the
commit entry with a put-if-absent of `<version + 1>.json`: when another writer committed to the table
since the read (a worker that took the resource's lock over while this one stalled past its lease), the
entry exists, and the commit fails instead of being retried on top (delta-rs' retry would re-check only
some conflicts: two blind appends, or two table creations, would both land). A table that did not exist
when the decision was made is created with `mode="error"` on the same terms. `guarded` turns that
failure into `CommitRefused`, naming the table, the refused commit, the commits that won and what to do;
nothing of the refused commit is in the log (its data files, if any were written, are unreferenced).

Each guarded commit carries a random `govhub.commit_id`, so a failure raised after the commit itself
landed (a post-commit step) is told apart from a refusal: it is never reported as "nothing committed".
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from deltalake import CommitProperties
from deltalake.exceptions import DeltaError

from lake._record import APP_ID_KEY, RUN_SEQ_KEY
from lake._state import COMPACTED_THROUGH_KEY
from lake._store import open_table
from schemas.errors import LakeError

__all__ = ["COMMIT_ID_KEY", "CommitRefused", "Guard", "compaction_commit", "run_commit"]

COMMIT_ID_KEY = "govhub.commit_id"
_SHOWN = 3  # winning commits named in a refusal


class CommitRefused(LakeError):
    """A commit refused because its table moved on since the version it was decided against; nothing of it
    was committed."""

    def __init__(self, message: str, *, uri: str, expected: int | None, found: int) -> None:
        self.uri = uri
        self.expected = expected
        self.found = found
        super().__init__(message)


@dataclass
class Guard:
    """One commit to guard: the table it goes to (`uri`), the version its decisions were read at (`expected`,
    None: the table did not exist), what it is (`commit`, e.g. "the commit of govhub.ingest.person
    sequence 3") and what to do when it is refused (`redo`)."""

    what: str
    uri: str
    options: Mapping[str, str]
    expected: int | None
    commit: str
    redo: str
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def version(self) -> int:
        """The version the guarded commit lands as: the one after the version it was decided against."""
        return 0 if self.expected is None else self.expected + 1

    @property
    def mode(self) -> Literal["error", "append"]:
        """The write mode that commits only on top of the expected state: create, or append to it."""
        return "error" if self.expected is None else "append"

    def properties(self, props: CommitProperties) -> CommitProperties:
        """`props` without retries and with this commit's id (see the module docstring)."""
        custom = {**(props.custom_metadata or {}), COMMIT_ID_KEY: self.token}
        return CommitProperties(custom_metadata=custom, max_commit_retries=0, app_transactions=props.app_transactions)

    @contextlib.contextmanager
    def check(self) -> Iterator[None]:
        """Run the delta-rs write-and-commit; its failure becomes `CommitRefused` when the table moved on."""
        try:
            yield
        except (DeltaError, OSError, ValueError) as e:
            try:
                refusal = self._refusal()
            except LakeError:  # the table cannot be read back now: report the write's own failure
                refusal = None
            if refusal is None:
                raise
            raise refusal from e

    def _refusal(self) -> CommitRefused | None:
        """The refusal, when the table moved on past `expected` and none of the newer commits is this one."""
        table = open_table(self.uri, self.options, self.what)
        if table is None:
            return None
        found = table.version()
        start = -1 if self.expected is None else self.expected
        if found <= start:
            return None
        newer = [e for e in table.history(found - start) if int(e["version"]) > start]
        if any(e.get(COMMIT_ID_KEY) == self.token for e in newer):
            return None  # it landed: the error came after the commit, it is not a refusal
        winners = ", ".join(_describe(e) for e in sorted(newer, key=lambda e: int(e["version"]))[:_SHOWN])
        since = "did not exist" if self.expected is None else f"was at version {self.expected}"
        message = (
            f"{self.what} at {self.uri}: {self.commit} was refused. The table {since} when it was decided and is "
            f"at version {found} now ({winners}{', …' if len(newer) > _SHOWN else ''}): another worker committed "
            "to this resource meanwhile, having taken its lock over while this one stalled past the lease. "
            f"Nothing was committed; {self.redo}"
        )
        return CommitRefused(message, uri=self.uri, expected=self.expected, found=found)


def run_commit(app_id: str, run_seq: int) -> tuple[str, str]:
    """What a run's commit is, and what to do when it is refused."""
    return (
        f"the commit of {app_id} sequence {run_seq}",
        "re-run the ingest: it starts from the table as it is now, the other worker's commit kept.",
    )


def compaction_commit(through: int) -> tuple[str, str]:
    """What a compaction's commit is, and what to do when it is refused."""
    return (
        f"the compaction through change version {through}",
        "compact the table again if changes are still pending; the other worker's commit stays.",
    )


def _describe(entry: Mapping[str, object]) -> str:
    """One winning commit, for the refusal: whose run (app transaction and sequence) or which compaction."""
    version = entry["version"]
    if APP_ID_KEY in entry:
        return f"version {version}: {entry[APP_ID_KEY]} sequence {entry.get(RUN_SEQ_KEY)}"
    if COMPACTED_THROUGH_KEY in entry:
        return f"version {version}: a compaction through change version {entry[COMPACTED_THROUGH_KEY]}"
    return f"version {version}: {entry.get('operation', 'a commit')}"
