"""An inbox on an object store (s3://bucket/prefix), read through a pyarrow filesystem.

Its files answer the few `Path` methods the filedrop connector uses (`name`, `with_name`, `is_file`,
`read_bytes`, `read_text`), so one connector reads a local folder or a bucket prefix the same way.
The filesystem comes with the connector's config (`config["filesystem"]`): the hub builds it from its
object-store settings, so connectors hold no credentials logic of their own.
"""

from __future__ import annotations

import fnmatch
import posixpath

import pyarrow as pa
import pyarrow.fs as pafs

from schemas import SourceError

__all__ = ["ObjectInbox", "ObjectInboxFile"]


class ObjectInboxFile:
    """One object under the inbox prefix, with the `Path` methods the connector reads."""

    def __init__(self, fs: pafs.FileSystem, path: str, *, scheme: str = "s3") -> None:
        self._fs, self._path, self._scheme = fs, path, scheme

    @property
    def name(self) -> str:
        return posixpath.basename(self._path)

    def with_name(self, name: str) -> ObjectInboxFile:
        return ObjectInboxFile(self._fs, posixpath.join(posixpath.dirname(self._path), name), scheme=self._scheme)

    def is_file(self) -> bool:
        return self._fs.get_file_info(self._path).type == pafs.FileType.File

    def read_bytes(self) -> bytes:
        try:
            with self._fs.open_input_stream(self._path) as f:
                return f.read()
        except (OSError, pa.ArrowException) as e:
            raise OSError(f"cannot read {self}: {e}") from e

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def __str__(self) -> str:
        return f"{self._scheme}://{self._path}"

    def __lt__(self, other: ObjectInboxFile) -> bool:
        return self.name < other.name


class ObjectInbox:
    """The objects under `s3://bucket/prefix`; listing is one request per 1,000 objects."""

    def __init__(self, fs: pafs.FileSystem, uri: str, *, source: str) -> None:
        self.uri, self.source = uri.rstrip("/"), source
        self.scheme, self.path = self.uri.split("://", 1)
        self._fs = fs

    def files(self, pattern: str, *, exclude_suffix: str) -> list[ObjectInboxFile]:
        """Files directly under the prefix whose names match `pattern`, in name order."""
        try:
            infos = self._fs.get_file_info(pafs.FileSelector(self.path, allow_not_found=True))
        except (OSError, pa.ArrowException) as e:
            raise SourceError(self.source, f"cannot list the inbox {self.uri}: {e}", retryable=True) from e
        names = sorted(
            posixpath.basename(i.path)
            for i in infos
            if i.type == pafs.FileType.File
            and fnmatch.fnmatch(posixpath.basename(i.path), pattern)
            and not i.path.endswith(exclude_suffix)
        )
        return [ObjectInboxFile(self._fs, posixpath.join(self.path, n), scheme=self.scheme) for n in names]

    def __str__(self) -> str:
        return self.uri
