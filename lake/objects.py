"""A small object-store helper (minio SDK) for deliveries: upload files and hand out download links."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lake._fs import s3_settings
from schemas.errors import LakeError

if TYPE_CHECKING:
    from minio import Minio

    from lake.lake import Lake

__all__ = ["ObjectStore"]


class ObjectStore:
    """Objects under a lake root: a MinIO/S3 bucket prefix, or a local folder (links are file:// URIs)."""

    def __init__(self, root: str, *, client: Minio | None = None) -> None:
        self.root = root
        self._client = client
        if client is not None:
            bucket, _, prefix = root.split("://", 1)[1].partition("/")
            self.bucket, self.prefix = bucket, prefix.strip("/")

    @classmethod
    def from_lake(cls, lake: Lake) -> ObjectStore:
        """The object store of a lake, with the lake's endpoint and credentials."""
        if not lake.is_s3:
            return cls(lake.root)
        s = s3_settings(lake.storage_options)
        endpoint = str(s["endpoint"] or "s3.amazonaws.com")
        secure = not s["allow_http"]
        if "://" in endpoint:
            parts = urlsplit(endpoint)
            endpoint, secure = parts.netloc, parts.scheme == "https"
        from minio import Minio  # imported on use: it pulls in cffi and a C parser (~0.3 s) every stage would pay

        client = Minio(
            endpoint,
            access_key=s["access_key"],
            secret_key=s["secret_key"],
            session_token=s["session_token"],
            secure=secure,
            region=str(s["region"]),
        )
        return cls(lake.root, client=client)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key.lstrip('/')}" if self.prefix else key.lstrip("/")

    def put_file(self, key: str, path: str | Path, *, content_type: str = "application/octet-stream") -> str:
        """Upload a local file to `key` under the root; returns its URI."""
        try:
            if self._client is None:
                target = Path(self.root, key)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
                return target.as_uri()
            self._client.fput_object(self.bucket, self._key(key), str(path), content_type=content_type)
        except _store_errors() as e:
            raise LakeError(f"could not upload {path} to {self.root}/{key}: {e}") from e
        return f"s3://{self.bucket}/{self._key(key)}"

    def presigned_get_url(self, key: str, expires: timedelta = timedelta(hours=24)) -> str:
        """A download link for `key` valid for `expires` (a file:// URI for a local root)."""
        if self._client is None:
            return Path(self.root, key).absolute().as_uri()
        try:
            return self._client.presigned_get_object(self.bucket, self._key(key), expires=expires)
        except _store_errors() as e:
            raise LakeError(f"could not sign a link for {self.root}/{key}: {e}") from e


def _store_errors() -> tuple[type[Exception], ...]:
    """The errors an upload or a signature can raise (evaluated only when one was raised)."""
    from minio.error import MinioException

    return (OSError, MinioException)
