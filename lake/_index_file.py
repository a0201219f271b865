"""Row indexes kept beside the table, so a cold worker reads 17 bytes a row instead of scanning the table.

`<table>/_index/` holds one Arrow IPC file per base version (written by the first load and by each
compaction) and one per change commit (the pending changes' index after it). A file is named by what
it belongs to (the Delta table id and version, and for the pending index the compaction point) and
carries in its schema metadata the same identity, the key and value columns with their types (the
fingerprints depend on them) and a CRC-32 of its arrays. A file that is missing, of another
table, version or column set, torn or altered is not used: the caller rebuilds the index by a scan
(with a warning) and writes it again. Files are written under a temporary name and renamed, so a
reader never sees half a file; a local file is memory-mapped.
"""

from __future__ import annotations

import json
import logging
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs

from lake._fs import filesystem_for
from lake._index import RowIndex
from lake._store import is_s3, join_uri

__all__ = ["INDEX_DIR", "IndexId", "index_exists", "read_index", "signature", "write_index"]

log = logging.getLogger(__name__)

INDEX_DIR = "_index"
FORMAT = "govhub.row_index.1"
_SCHEMA = pa.schema([pa.field("key", pa.uint64(), False), pa.field("row", pa.uint64(), False), ("state", pa.int8())])


def signature(keys: Sequence[pa.Field], values: Sequence[pa.Field]) -> str:
    """The column set an index covers: key and value column names with their types."""
    return json.dumps([[[f.name, str(f.type)] for f in keys], [[f.name, str(f.type)] for f in values]])


@dataclass(frozen=True)
class IndexId:
    """Which index a file holds: of the base at `version`, or of the pending changes at change-table `version`
    (with the change-table version the base includes, `compacted`), over the columns in `columns`."""

    kind: str  # "base" or "changes"
    table_id: str  # the Delta table id of the base (kind base) or of the change table (kind changes)
    version: int
    compacted: int
    columns: str  # `signature(...)`

    @property
    def name(self) -> str:
        """The file name (the column set is checked from the metadata, not the name)."""
        if self.kind == "base":
            return f"base-{self.version:012d}-{self.table_id}.arrow"
        return f"changes-{self.compacted + 1:012d}-{self.version:012d}-{self.table_id}.arrow"

    def metadata(self) -> dict[str, str]:
        return {
            "format": FORMAT,
            "kind": self.kind,
            "table_id": self.table_id,
            "version": str(self.version),
            "compacted": str(self.compacted),
            "columns": self.columns,
        }


def _digest(keys: np.ndarray, rows: np.ndarray, state: np.ndarray) -> str:
    """CRC-32 of the three arrays: catches a torn or flipped file (`lake verify` catches a forged one)."""
    crc = 0
    for part in (keys, rows, state):
        crc = zlib.crc32(np.ascontiguousarray(part).data, crc)
    return f"{crc:08x}"


def _folder(uri: str, options: dict[str, str]) -> tuple[pafs.FileSystem, str]:
    return filesystem_for(join_uri(uri, INDEX_DIR), options)


def write_index(
    uri: str, options: dict[str, str], ident: IndexId, index: RowIndex, *, compacted: int | None = None
) -> str:
    """Write `index` as `ident`'s file under `<uri>/_index/` (temporary name, then renamed); the files of
    older versions of the same kind are removed, and with `compacted` (a compaction's new base) the pending
    indexes of the compaction points before it. Returns the file's path."""
    fs, folder = _folder(uri, options)
    fs.create_dir(folder, recursive=True)
    meta = {**ident.metadata(), "rows": str(len(index.keys)), "digest": _digest(index.keys, index.rows, index.state)}
    batch = pa.record_batch(
        [pa.array(index.keys, pa.uint64()), pa.array(index.rows, pa.uint64()), pa.array(index.state, pa.int8())],
        schema=_SCHEMA,
    )
    final = f"{folder}/{ident.name}"
    temporary = f"{folder}/.{uuid.uuid4().hex}.tmp"
    with fs.open_output_stream(temporary) as sink, pa.ipc.new_file(sink, _SCHEMA.with_metadata(meta)) as writer:
        writer.write_batch(batch)
    fs.move(temporary, final)
    _prune(fs, folder, ident, compacted)
    return final


def _prune(fs: pafs.FileSystem, folder: str, kept: IndexId, compacted: int | None) -> None:
    """Remove the files a newer one replaces (and temporary files of killed writes)."""
    prefix = "base-" if kept.kind == "base" else "changes-"
    pending_before = None if compacted is None else f"changes-{compacted + 1:012d}-"
    for info in fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
        name = info.base_name
        stale = name.startswith(prefix) and name < kept.name
        stale |= pending_before is not None and name.startswith("changes-") and name < pending_before
        if stale or (name.endswith(".tmp") and name != kept.name and _old(info)):
            try:
                fs.delete_file(info.path)
            except OSError as e:  # another worker removed it first
                log.debug("could not remove %s: %s", info.path, e)


def _old(info: pafs.FileInfo) -> bool:
    """A temporary file older than an hour: its writer is gone."""
    import time

    mtime = info.mtime.timestamp() if info.mtime is not None else 0.0
    return time.time() - mtime > 3600


def index_exists(uri: str, options: dict[str, str], ident: IndexId) -> bool:
    """Whether `ident`'s file is there (whatever its contents)."""
    fs, folder = _folder(uri, options)
    return bool(fs.get_file_info(f"{folder}/{ident.name}").type == pafs.FileType.File)


def read_index(uri: str, options: dict[str, str], ident: IndexId, columns: Sequence[str]) -> RowIndex | None:
    """The index `ident` from its file, or None (with a warning saying why) when it is missing, of another
    table, version or column set, torn or altered: then the caller rebuilds it by a scan."""
    fs, folder = _folder(uri, options)
    path = f"{folder}/{ident.name}"
    if fs.get_file_info(path).type != pafs.FileType.File:
        log.warning("row index %s of %s is missing; rebuilding it by a scan", ident.name, uri)
        return None
    try:
        source = pa.memory_map(path, "r") if not is_s3(uri) else fs.open_input_file(path)
        reader = pa.ipc.open_file(source)
        meta = {k.decode(): v.decode() for k, v in (reader.schema.metadata or {}).items()}
        expected = ident.metadata()
        wrong = [k for k, v in expected.items() if meta.get(k) != v]
        if wrong:
            log.warning("row index %s of %s is stale (%s differ); rebuilding it by a scan", ident.name, uri, wrong)
            return None
        if reader.num_record_batches != 1 or not reader.schema.remove_metadata().equals(_SCHEMA):
            raise ValueError("unexpected layout")
        batch = reader.get_batch(0)
        keys, rows, state = (batch.column(i).to_numpy(zero_copy_only=True) for i in range(3))
        if len(keys) != int(meta["rows"]) or _digest(keys, rows, state) != meta["digest"]:
            raise ValueError("its digest does not match its contents")
    except (OSError, ValueError, KeyError, pa.ArrowException) as e:
        log.warning("row index %s of %s is corrupt (%s); rebuilding it by a scan", ident.name, uri, e)
        return None
    return RowIndex(keys, rows, state, tuple(columns))
