"""The serving store: one read-only SQLite file per resource version, built at publish, swapped atomically.

Verification answers are looked up here, never by scanning Parquet: a keyed lookup costs microseconds.
Layout under `<home>/serving/<resource>/`:

    v00000007-1a2b3c4d.sqlite   table `data` (only the fields the catalogue's items touch, as TEXT,
                                primary key + one index per secondary lookup key) and table `meta`
    CURRENT                     {"file": "v00000007-1a2b3c4d.sqlite", "version": 7, ...}

A refresh writes a new file under a temporary name, fsyncs and renames it, then replaces CURRENT with
`os.replace` (atomic on POSIX). Readers resolve CURRENT once per snapshot, so an answer reads one
version from start to end: old or new, never half. Superseded files are removed after a grace period;
a reader that already opened one keeps reading it (POSIX unlink semantics).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from core.ids import short_suffix
from core.time import BEIJING_TZ_NAME
from exchange.verify.items import VerificationItem, load_items
from schemas import Contract, LakeError

__all__ = ["ServingStore", "Snapshot", "StoreUnavailable", "build_store_file", "refresh_serving_store", "store_layout"]

log = logging.getLogger(__name__)

_POINTER = "CURRENT"
_KEEP_SUPERSEDED_SECONDS = 300.0


class StoreUnavailable(LakeError):
    """No serving store has been built for a resource yet (run the pipeline or `refresh_serving_store`)."""


@dataclass(frozen=True)
class StoreLayout:
    """What the store keeps for one resource: columns, primary key, secondary lookup keys."""

    resource: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...]


def store_layout(contract: Contract, items: Iterable[VerificationItem]) -> StoreLayout:
    """The columns and keys of a resource's store, derived from the items that read it (data minimisation)."""
    mine = [i for i in items if i.resource == contract.resource]
    pk = tuple(contract.primary_key)
    columns = tuple(dict.fromkeys([*pk, *(f for i in mine for f in i.fields)]))
    indexes = tuple(dict.fromkeys(i.key for i in mine if i.key != pk))
    return StoreLayout(contract.resource, columns, pk, indexes)


def _text_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Render one column as strings: dates ISO, decimals with their scale, timestamps in Beijing time ISO."""
    t = column.type
    if pa.types.is_timestamp(t):
        local = column.cast(pa.timestamp("us", tz=t.tz or "UTC")) if t.tz is None else column
        return pc.strftime(local.cast(pa.timestamp("us", tz=BEIJING_TZ_NAME)), format="%Y-%m-%dT%H:%M:%S")
    if pa.types.is_boolean(t):
        return pc.cast(pc.cast(column, pa.int8()), pa.string())
    return pc.cast(column, pa.string())


def build_store_file(
    table: pa.Table | Iterable[pa.RecordBatch], *, layout: StoreLayout, version: int, path: Path
) -> int:
    """Write the live rows (a table or batches) to a new SQLite file at `path`; returns the rows stored."""
    cols = [c for c in layout.columns]
    quoted = ", ".join(f'"{c}" TEXT' for c in cols)
    pk = ", ".join(f'"{c}"' for c in layout.primary_key)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA page_size=8192")
        conn.execute(f"CREATE TABLE data ({quoted}, PRIMARY KEY ({pk})) WITHOUT ROWID")
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("BEGIN")
        placeholders = ", ".join("?" for _ in cols)
        insert = f"INSERT OR REPLACE INTO data VALUES ({placeholders})"
        rows = 0
        batches = table.select(cols).to_batches(max_chunksize=100_000) if isinstance(table, pa.Table) else table
        for batch in batches:
            lists = [_text_column(pa.chunked_array([batch.column(c)])).to_pylist() for c in cols]
            conn.executemany(insert, zip(*lists, strict=True))
            rows += batch.num_rows
        for n, key in enumerate(layout.indexes):
            conn.execute(f"CREATE INDEX ix_{n} ON data ({', '.join(chr(34) + k + chr(34) for k in key)})")
        meta = {
            "resource": layout.resource,
            "version": str(version),
            "rows": str(rows),
            "columns": json.dumps(cols),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        conn.execute("COMMIT")
    finally:
        conn.close()
    with open(path, "rb") as f:
        os.fsync(f.fileno())
    return rows


def refresh_serving_store(
    lake: Any,
    contract: Contract,
    *,
    home: Path,
    items: Mapping[str, VerificationItem] | None = None,
    force: bool = False,
) -> int:
    """Rebuild `contract`'s serving store from the curated table's current version; returns that version.

    Called after each publish (the pipeline's register stage). Does nothing when the store already
    serves that version (unless `force`). Raises `StoreUnavailable` when the curated table is empty.
    """
    curated = lake.curated(contract)
    version = curated.version()
    if version is None:
        raise StoreUnavailable(
            f"curated table '{contract.resource}' has no version yet: ingest it before building its serving store"
        )
    folder = _folder(home, contract.resource)
    folder.mkdir(parents=True, exist_ok=True)
    current = _read_pointer(folder)
    if current is not None and current["version"] == version and not force:
        return version
    layout = store_layout(contract, (items or load_items()).values())
    read_cols = list(layout.columns) + (["_deleted"] if contract.deletes == "tombstone" else [])
    table = _live_batches(curated.scan(version=version, columns=read_cols))  # streamed: memory flat with size
    name = f"v{version:08d}-{short_suffix()}.sqlite"
    tmp = folder / f".{name}.tmp"
    started = time.perf_counter()
    try:
        rows = build_store_file(table, layout=layout, version=version, path=tmp)
        os.replace(tmp, folder / name)
    finally:
        tmp.unlink(missing_ok=True)
    _write_pointer(folder, {"file": name, "version": version, "rows": rows})
    _fsync_dir(folder)
    _remove_superseded(folder, keep={name, None if current is None else current["file"]})
    log.info(
        "serving store %s now at version %s (%s rows, %.2f s)",
        contract.resource,
        version,
        rows,
        time.perf_counter() - started,
    )
    return version


def _live_batches(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The batches without tombstoned rows."""
    for batch in batches:
        if "_deleted" in batch.schema.names:
            live = pc.invert(pc.fill_null(batch.column("_deleted"), False))
            batch = batch.filter(live).drop_columns(["_deleted"])
        yield batch


def _folder(home: Path, resource: str) -> Path:
    return Path(home) / "serving" / resource


def _read_pointer(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / _POINTER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _write_pointer(folder: Path, pointer: Mapping[str, Any]) -> None:
    tmp = folder / f".{_POINTER}.{short_suffix()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(dict(pointer), f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, folder / _POINTER)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_superseded(folder: Path, *, keep: set[str | None]) -> None:
    """Delete store files older than the grace period that are neither current nor just superseded."""
    cutoff = time.time() - _KEEP_SUPERSEDED_SECONDS
    for path in folder.glob("v*.sqlite"):
        if path.name not in keep and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


class Snapshot:
    """One resource's store at one version: every lookup of one answer goes through one snapshot."""

    def __init__(self, resource: str, version: int, conn: sqlite3.Connection) -> None:
        self.resource = resource
        self.version = version
        self._conn = conn

    def lookup(self, key: Sequence[str], values: Sequence[str], columns: Sequence[str]) -> list[dict[str, str | None]]:
        """Rows whose `key` fields equal `values`, with `columns` (all TEXT, None for null)."""
        where = " AND ".join(f'"{k}" = ?' for k in key)
        sql = f"SELECT {', '.join(chr(34) + c + chr(34) for c in columns)} FROM data WHERE {where}"
        return [dict(zip(columns, row, strict=True)) for row in self._conn.execute(sql, tuple(values))]


class ServingStore:
    """Reader of the serving stores under `<home>/serving`; one read-only connection per thread and file.

    `snapshot(resource)` checks the CURRENT pointer (one stat) and reopens when a refresh swapped it.
    """

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self._local = threading.local()

    def snapshot(self, resource: str) -> Snapshot:
        """The current version of `resource`'s store; raises `StoreUnavailable` when none is built."""
        folder = _folder(self.home, resource)
        cache: dict[str, tuple[tuple[int, int], Snapshot]] = self._local.__dict__.setdefault("cache", {})
        for _attempt in range(3):
            try:
                st = os.stat(folder / _POINTER)
            except FileNotFoundError:
                raise StoreUnavailable(
                    f"no serving store for '{resource}' under {folder}: publish the resource "
                    "(govhub ingest) or call refresh_serving_store"
                ) from None
            stamp = (st.st_ino, st.st_mtime_ns)
            hit = cache.get(resource)
            if hit is not None and hit[0] == stamp:
                return hit[1]
            pointer = _read_pointer(folder)
            if pointer is None:
                continue
            try:
                conn = sqlite3.connect(
                    f"file:{folder / pointer['file']}?mode=ro&immutable=1", uri=True, check_same_thread=False
                )
                version = int(conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0])
            except sqlite3.Error:  # swapped and removed between reading CURRENT and opening: read it again
                continue
            if hit is not None:
                hit[1]._conn.close()
            snap = Snapshot(resource, version, conn)
            cache[resource] = (stamp, snap)
            return snap
        raise StoreUnavailable(f"serving store for '{resource}' under {folder} kept changing or is damaged")

    def version(self, resource: str) -> int | None:
        """The version the store serves, or None when none is built."""
        pointer = _read_pointer(_folder(self.home, resource))
        return None if pointer is None else int(pointer["version"])
