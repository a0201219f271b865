"""The lake's entry point: a root (local folder or s3://bucket/prefix) that hands out tables and staging."""

from __future__ import annotations

from collections.abc import Mapping

from lake._store import is_s3, join_uri, s3_defaults
from lake.curated import CuratedTable
from lake.quarantine import QuarantineTable
from lake.staging import StagingArea
from schemas import Contract

__all__ = ["Lake"]


class Lake:
    """A lake root: `<root>/curated/<resource>`, `<root>/quarantine/<resource>`, `<root>/staging/...`.

    `root` is a local folder path or `s3://bucket/prefix`. For S3, `storage_options` are delta-rs
    object-store keys (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    `AWS_REGION`, `AWS_ALLOW_HTTP`); commits use a conditional put (`aws_conditional_put=etag`)
    unless the caller chooses a locking provider or `AWS_S3_ALLOW_UNSAFE_RENAME` itself.
    """

    def __init__(self, root: str, *, storage_options: Mapping[str, str] | None = None) -> None:
        self.root = root if is_s3(root) else join_uri(root)
        self.storage_options: dict[str, str] = (
            s3_defaults(storage_options) if is_s3(root) else dict(storage_options or {})
        )

    @property
    def is_s3(self) -> bool:
        """True when the lake lives in an S3-protocol bucket."""
        return is_s3(self.root)

    def uri(self, *parts: str) -> str:
        """A path under the lake root."""
        return join_uri(self.root, *parts)

    def curated(self, contract: Contract) -> CuratedTable:
        """The curated table of a resource."""
        return CuratedTable(self.uri("curated", contract.resource), contract, storage_options=self.storage_options)

    def quarantine(self, contract: Contract) -> QuarantineTable:
        """The quarantine table of a resource (rejected rows with their reasons)."""
        return QuarantineTable(
            self.uri("quarantine", contract.resource), contract, storage_options=self.storage_options
        )

    def staging(self, contract: Contract, run_id: str) -> StagingArea:
        """The staging folder of one run, for Parquet files passed between pipeline stages."""
        return StagingArea(self.uri("staging", contract.resource, run_id), storage_options=self.storage_options)

    def __repr__(self) -> str:
        return f"Lake({self.root!r})"
