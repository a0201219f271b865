"""A pyarrow filesystem for a lake root, built from the same storage options delta-rs uses."""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow.fs as pafs

from lake._store import is_s3

__all__ = ["filesystem_for", "s3_settings"]


def s3_settings(storage_options: Mapping[str, str]) -> dict[str, str | bool | None]:
    """Endpoint, credentials and region from delta-rs style storage options (keys case-insensitive)."""
    opts = {k.lower(): v for k, v in storage_options.items()}

    def pick(*names: str) -> str | None:
        return next((opts[n] for n in names if n in opts), None)

    allow_http = str(pick("aws_allow_http", "allow_http") or "false").lower() == "true"
    return {
        "endpoint": pick("aws_endpoint_url", "aws_endpoint", "endpoint_url", "endpoint"),
        "access_key": pick("aws_access_key_id", "access_key_id"),
        "secret_key": pick("aws_secret_access_key", "secret_access_key"),
        "session_token": pick("aws_session_token", "session_token"),
        "region": pick("aws_region", "region") or "us-east-1",
        "allow_http": allow_http,
    }


def filesystem_for(uri: str, storage_options: Mapping[str, str]) -> tuple[pafs.FileSystem, str]:
    """The filesystem and the path inside it for a local folder or an s3:// URI."""
    if not is_s3(uri):
        return pafs.LocalFileSystem(), uri
    s = s3_settings(storage_options)
    endpoint = s["endpoint"]
    scheme = "http" if s["allow_http"] else "https"
    if isinstance(endpoint, str) and "://" in endpoint:
        scheme, endpoint = endpoint.split("://", 1)
    fs = pafs.S3FileSystem(
        access_key=s["access_key"],
        secret_key=s["secret_key"],
        session_token=s["session_token"],
        region=s["region"],
        endpoint_override=endpoint,
        scheme=scheme,
    )
    return fs, uri.split("://", 1)[1]
