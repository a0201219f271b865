"""Staging: Parquet files passed between pipeline stages of one run (data travels through the lake)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.ipc as ipc

from lake._fs import filesystem_for
from schemas.errors import LakeError

__all__ = ["StagingArea"]

log = logging.getLogger(__name__)


class StagingArea:
    """`<root>/staging/<resource>/<run_id>/`: one Arrow IPC file per named stage output.

    Staged files are written once and read once by the next stage of the same run, then removed,
    so they use Arrow's own file format rather than Parquet: a round trip of 1 M person rows costs
    0.39 s against 2.19 s for Parquet (bench/README.md). On S3 they are LZ4-compressed to halve
    the bytes sent; locally they are left uncompressed (no CPU spent, the disk is not the limit).
    """

    def __init__(self, uri: str, *, storage_options: Mapping[str, str] | None = None) -> None:
        self.uri = uri
        self._fs, self._path = filesystem_for(uri, storage_options or {})
        self._options = ipc.IpcWriteOptions(compression="lz4" if uri.startswith("s3://") else None)

    def _file(self, name: str) -> str:
        if not name or "/" in name or name.startswith("."):
            raise LakeError(f"staging file name {name!r} is invalid: use a plain name like 'accepted'")
        return f"{self._path}/{name}.arrow"

    def write(self, name: str, batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> int:
        """Stream `batches` into `<name>.arrow` (replacing it) and return the row count."""
        path = self._file(name)
        rows = 0
        try:
            self._fs.create_dir(self._path, recursive=True)
            with self._fs.open_output_stream(path) as out, ipc.new_file(out, schema, options=self._options) as writer:
                for batch in batches:
                    writer.write_batch(batch if batch.schema.equals(schema) else batch.cast(schema))
                    rows += batch.num_rows
        except (OSError, pa.ArrowException) as e:
            raise LakeError(f"staging file {name} at {self.uri} could not be written: {e}") from e
        log.info("staged %s rows as %s/%s.arrow", rows, self.uri, name)
        return rows

    def reader(self, name: str) -> pa.RecordBatchReader:
        """Stream a staged file back batch by batch."""
        path = self._file(name)
        try:
            source = self._fs.open_input_file(path)
            file = ipc.open_file(source)
        except (OSError, pa.ArrowException) as e:
            raise LakeError(
                f"staging file {name} at {self.uri} could not be read: {e}; re-run the stage that writes it"
            ) from e

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                for i in range(file.num_record_batches):
                    yield file.get_batch(i)
            finally:
                source.close()

        return pa.RecordBatchReader.from_batches(file.schema, batches())

    def exists(self, name: str) -> bool:
        """True when the named file has been staged."""
        return self._fs.get_file_info(self._file(name)).type == pafs.FileType.File

    def clear(self) -> None:
        """Remove the run's staging folder (after the commit)."""
        if self._fs.get_file_info(self._path).type == pafs.FileType.Directory:
            self._fs.delete_dir(self._path)
