"""Staging: Parquet files passed between pipeline stages of one run (data travels through the lake)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from lake._fs import filesystem_for
from schemas.errors import LakeError

__all__ = ["StagingArea"]

log = logging.getLogger(__name__)


class StagingArea:
    """`<root>/staging/<resource>/<run_id>/`: one Parquet file per named stage output."""

    def __init__(self, uri: str, *, storage_options: Mapping[str, str] | None = None) -> None:
        self.uri = uri
        self._fs, self._path = filesystem_for(uri, storage_options or {})

    def _file(self, name: str) -> str:
        if not name or "/" in name or name.startswith("."):
            raise LakeError(f"staging file name {name!r} is invalid: use a plain name like 'accepted'")
        return f"{self._path}/{name}.parquet"

    def write(self, name: str, batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> int:
        """Stream `batches` into `<name>.parquet` (replacing it) and return the row count."""
        path = self._file(name)
        rows = 0
        try:
            self._fs.create_dir(self._path, recursive=True)
            # no dictionary encoding: stage files are read once; it cost ~1 s per million person rows
            with pq.ParquetWriter(path, schema, filesystem=self._fs, use_dictionary=False) as writer:
                for batch in batches:
                    writer.write_batch(batch if batch.schema.equals(schema) else batch.cast(schema))
                    rows += batch.num_rows
        except (OSError, pa.ArrowException) as e:
            raise LakeError(f"staging file {name} at {self.uri} could not be written: {e}") from e
        log.info("staged %s rows as %s/%s.parquet", rows, self.uri, name)
        return rows

    def reader(self, name: str) -> pa.RecordBatchReader:
        """Stream a staged file back batch by batch."""
        path = self._file(name)
        try:
            pf = pq.ParquetFile(self._fs.open_input_file(path))
        except (OSError, pa.ArrowException) as e:
            raise LakeError(
                f"staging file {name} at {self.uri} could not be read: {e}; re-run the stage that writes it"
            ) from e

        def batches() -> Iterator[pa.RecordBatch]:
            yield from pf.iter_batches()

        return pa.RecordBatchReader.from_batches(pf.schema_arrow, batches())

    def exists(self, name: str) -> bool:
        """True when the named file has been staged."""
        return self._fs.get_file_info(self._file(name)).type == pafs.FileType.File

    def clear(self) -> None:
        """Remove the run's staging folder (after the commit)."""
        if self._fs.get_file_info(self._path).type == pafs.FileType.Directory:
            self._fs.delete_dir(self._path)
