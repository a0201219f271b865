"""A run's commit to a curated table: the first load into the base, or one commit of net changes to `_changes`.

Both are decided against the state read at the start and land only on that version (`_guard.py`); a run
whose rows change nothing makes no commit. `last_commit` recognises a run's commit after a crash.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping

import numpy as np
import pyarrow as pa
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake

from lake._append import decide
from lake._changes import DELETED, shape_changes
from lake._feed import stat_rows
from lake._guard import Guard, run_commit
from lake._index import IndexTap, cached_index
from lake._indexed import IndexedTable
from lake._merge import ROW_GROUP_ROWS, ChangeSource, MergeWriter, Plan, table_source
from lake._record import (
    COUNT_KEYS,
    DATASET_VERSION_KEY,
    ROWS_TOTAL_KEY,
    CommitInfo,
    custom_metadata,
    find_commit,
    info_of,
    run_properties,
)
from lake._row_index import columns_of, pending_id, save
from lake._state import COMMIT_VERSION, OFFSET_APP, RUN_SEQ, Layout, Pending, changes_uri, state_batches
from lake._store import delta_errors
from lake._sweep import data_files, sweep
from lake._writer import writer_properties
from schemas import arrow_schema
from schemas.errors import LakeError

__all__ = ["TABLE_CONFIGURATION", "CommitWriter"]

log = logging.getLogger(__name__)

TABLE_CONFIGURATION = {"delta.enableChangeDataFeed": "true"}


class CommitWriter(MergeWriter, IndexedTable):
    """The commit side of a curated table: the first load, the change commits and their recognition."""

    def commit(
        self,
        changes: pa.Table | pa.RecordBatchReader | ChangeSource,
        *,
        app_id: str,
        run_seq: int,
        metadata: Mapping[str, str],
        evolve: bool = False,
        fence: Callable[[], None] | None = None,
    ) -> CommitInfo | None:
        """Commit a run's accepted changes in ONE atomic commit: the first load appends to the base; every
        later run appends its net changes (one row per key: `_change_type`, `_deleted`, the dataset
        version, the run's sequence) to the change table (merge-on-read: no base file is rewritten).

        `changes` holds the contract's columns plus an optional `_deleted` flag: a table, a reader
        (read into memory once), or a `ChangeSource` — a function opening a fresh reader of the
        changes (of some columns only when asked), which is streamed: a first pass reads only the
        key and `_deleted` columns, the second streams the rows into the first load (memory flat) or
        collects a later run's kept rows (the change) to classify them. Within `changes` a key
        appearing several times keeps only its LAST occurrence. Rows identical to the stored row and
        deletes of unknown keys change nothing; when nothing changes no commit is made and None is
        returned. The commit carries `metadata`, `govhub.run_seq` and the app transaction (app_id, run_seq), so
        `last_commit(app_id)` recognises it after a crash. `fence` (when given) is called right before delta-rs
        writes and commits; raising there (the caller lost its lock) leaves the table untouched. The commit
        itself lands only on the table version it was decided against (`lake/_guard.py`): when another writer
        committed since, it raises `CommitRefused` and nothing is committed. Once it has landed, the data
        files of that table listed right before it that no commit references (a killed or refused write's)
        are removed (`lake/_sweep.py`).
        """
        if isinstance(changes, pa.RecordBatchReader):
            changes = changes.read_all()
        source = table_source(changes) if isinstance(changes, pa.Table) else changes
        keys = list(self.contract.primary_key)
        contract_schema = arrow_schema(self.contract)
        with source(None) as probe:  # column checks before any data is read
            shape_changes(probe.schema.empty_table(), contract_schema, evolve=evolve, table=self._what)
            has_deleted = DELETED in probe.schema.names
        plan = self._plan(source, keys, contract_schema, has_deleted=has_deleted)
        if plan.rows == 0:
            return None
        props = run_properties(app_id, run_seq, metadata)
        with delta_errors(self._what, self.uri, "written"):
            layout = self._layout()
            if layout.changes is None and (layout.base is None or not layout.base.file_uris()):
                guard = self._guard(self.uri, layout.base, *run_commit(app_id, run_seq))
                return self._first_load(
                    source, plan, props, run_seq, metadata, evolve=evolve, fence=fence, base=layout.base, guard=guard
                )
            return self._append(layout, source, plan, app_id, run_seq, metadata, evolve=evolve, fence=fence)

    def _append(
        self,
        layout: Layout,
        source: ChangeSource,
        plan: Plan,
        app_id: str,
        run_seq: int,
        metadata: Mapping[str, str],
        *,
        evolve: bool,
        fence: Callable[[], None] | None = None,
    ) -> CommitInfo | None:
        """Append the run's net changes to the change table in ONE commit (merge-on-read)."""
        keys = list(self.contract.primary_key)
        contract_schema = arrow_schema(self.contract)
        incoming = pa.Table.from_batches(
            list(self._stream(source, plan, contract_schema, evolve=evolve, live_only=False))
        )
        schema = self._state_schema(layout)
        types = [schema.field(k).type for k in keys]
        base_index, pending_index = self._indexes(layout, schema)
        tombstone = self.contract.deletes == "tombstone"

        def lookup(probe: pa.Table) -> pa.Table:
            only = Pending.of(probe.cast(pa.schema([pa.field(k, t) for k, t in zip(keys, types, strict=True)])))
            parts = list(state_batches(layout, keys, schema, tombstone=tombstone, only=only))
            return pa.concat_tables(parts) if parts else schema.empty_table()

        decision = decide(
            incoming, keys=keys, types=types, tombstone=tombstone, base=base_index, pending=pending_index, lookup=lookup
        )
        if decision.rows.num_rows == 0:
            log.info("changes for %s equal the stored rows; no commit", self.uri)
            return None
        offset = layout.offset
        change_version = 0 if layout.changes is None else layout.changes.version() + 1
        version = offset + change_version
        n = decision.rows.num_rows
        rows = decision.rows.append_column(COMMIT_VERSION, pa.array(np.full(n, version, dtype=np.int64)))
        rows = rows.append_column(RUN_SEQ, pa.array(np.full(n, run_seq, dtype=np.int64)))
        if layout.changes is None:
            before = 0 if layout.base is None else stat_rows(layout.base)
        else:
            before = int(layout.changes.history(1)[0][ROWS_TOTAL_KEY])
        total = before + decision.inserted - decision.deleted
        custom = custom_metadata(app_id, run_seq, metadata)
        counts = (decision.inserted, decision.updated, decision.deleted)
        custom.update({k: str(v) for k, v in zip(COUNT_KEYS, counts, strict=True)})
        custom.update({ROWS_TOTAL_KEY: str(total), DATASET_VERSION_KEY: str(version)})
        guard = self._guard(changes_uri(self.uri), layout.changes, *run_commit(app_id, run_seq))
        props = CommitProperties(
            custom_metadata=custom, app_transactions=[Transaction(app_id, run_seq), Transaction(OFFSET_APP, offset)]
        )
        if fence is not None:  # the last moment before delta-rs writes and commits: is the caller still entitled?
            fence()
        listed = data_files(changes_uri(self.uri), self._options)  # swept once this commit landed (`_sweep.py`)
        with guard.check():  # lands as change-table version `change_version` (the rows carry it), or is refused
            write_deltalake(
                changes_uri(self.uri) if layout.changes is None else layout.changes,  # at the version read
                rows,
                mode=guard.mode,
                schema_mode="merge",
                storage_options=self._options,
                commit_properties=guard.properties(props),
                name=f"{self.contract.resource}_changes",
                writer_properties=WriterProperties(max_row_group_size=ROW_GROUP_ROWS),
            )
        changes = layout.changes if layout.changes is not None else self._open_changes()
        assert changes is not None and changes.version() == change_version  # the write moved the open table on
        log.info("appended %s change rows to %s (dataset version %s)", n, changes_uri(self.uri), version)
        sweep(changes_uri(self.uri), self._options, listed, landed=change_version)
        # the next run finds the pending changes' index of the new version ready: in this process, or on disk
        after = pending_index.merged(decision.index)
        cached_index(self._pending_key(changes, layout.compacted), change_version, after.columns, lambda: after)
        _, columns = columns_of(schema, keys, DELETED)
        save(self.uri, self._options, pending_id(changes, change_version, layout.compacted, columns), after)
        return info_of(
            changes,
            run_seq,
            metadata,
            inserted=decision.inserted,
            updated=decision.updated,
            deleted=decision.deleted,
            offset=offset,
        )

    def _first_load(
        self,
        source: ChangeSource,
        plan: Plan,
        props: CommitProperties,
        run_seq: int,
        metadata: Mapping[str, str],
        *,
        evolve: bool,
        fence: Callable[[], None] | None = None,
        base: DeltaTable | None,
        guard: Guard,
    ) -> CommitInfo | None:
        """A plain streamed append into a missing or empty table (one commit, same metadata), guarded by `guard`."""
        live = int(np.count_nonzero(plan.keep & ~plan.deleted))
        if live == 0:
            return None
        contract_schema = arrow_schema(self.contract)
        written = plan.keep & ~plan.deleted
        prints = None if plan.prints is None else plan.prints if written.all() else plan.prints[written]
        tap = IndexTap(self.contract.primary_key, prints)
        batches = tap.wrap(self._stream(source, plan, contract_schema, evolve=evolve, live_only=True))
        first = next(batches)
        reader = pa.RecordBatchReader.from_batches(first.schema, itertools.chain([first], batches))
        if fence is not None:  # the rows stream into the write: this is the last moment before it
            fence()
        listed = data_files(self.uri, self._options)  # swept once this commit landed (`_sweep.py`)
        with guard.check():  # creates the table, or appends to the empty one at the version read; else refused
            write_deltalake(
                self.uri if base is None else base,
                reader,
                mode=guard.mode,
                configuration=TABLE_CONFIGURATION,
                schema_mode="merge" if evolve else None,
                storage_options=self._options,
                commit_properties=guard.properties(props),
                name=self.contract.resource,
                description=self.contract.title,
                target_file_size=self._target_file_size,
                writer_properties=writer_properties(first),
            )
        dt = DeltaTable(self.uri, storage_options=self._options, version=guard.version)  # this commit's
        log.info("first load of %s rows into %s (version %s)", live, self.uri, dt.version())
        sweep(self.uri, self._options, listed, landed=guard.version)
        self._save_first_index(dt, tap)
        return info_of(dt, run_seq, metadata, inserted=live)

    def last_commit(self, app_id: str) -> CommitInfo | None:
        """The latest commit made with `app_id` (from the app transaction and the commit history)."""
        with delta_errors(self._what, self.uri, "read"):
            changes = self._open_changes()
            if changes is not None and (run_seq := changes.transaction_version(app_id)) is not None:
                offset = changes.transaction_version(OFFSET_APP) or 0
                found = find_commit(changes.history(), app_id, run_seq, offset=offset)
            else:
                dt = self._open()
                if dt is None or (run_seq := dt.transaction_version(app_id)) is None:
                    return None
                found = find_commit(dt.history(), app_id, run_seq)
        return found if found is not None else self._history_lost(app_id, run_seq)

    def _history_lost(self, app_id: str, run_seq: int) -> CommitInfo:
        raise LakeError(
            f"{self._what} at {self.uri} records app transaction {app_id}={run_seq} but its commit is "
            "no longer in the history (log cleaned up); treat the run as committed"
        )
