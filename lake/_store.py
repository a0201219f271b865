"""Where lake tables live: root URIs, storage options and the Delta error wrapper shared by the tables."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path

from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, TableNotFoundError

from schemas.errors import LakeError

__all__ = ["delta_errors", "is_s3", "join_uri", "open_table", "s3_defaults"]

log = logging.getLogger(__name__)

# Safe concurrent commits on S3: delta-rs refuses to commit to S3 unless it has either a locking
# provider (DynamoDB), a conditional put (If-None-Match, supported by AWS S3 since 2024, MinIO, R2)
# or the explicit AWS_S3_ALLOW_UNSAFE_RENAME. We default to the conditional put; a caller that sets
# any of these keys keeps its own choice.
_CONCURRENCY_KEYS = (
    "aws_conditional_put",
    "conditional_put",
    "aws_s3_locking_provider",
    "aws_s3_allow_unsafe_rename",
)


def is_s3(uri: str) -> bool:
    """True for s3:// (and s3a://) URIs."""
    return uri.startswith(("s3://", "s3a://"))


def join_uri(root: str, *parts: str) -> str:
    """Join path parts onto a local folder or an s3:// root."""
    if is_s3(root):
        return "/".join([root.rstrip("/"), *(p.strip("/") for p in parts)])
    return str(Path(root).joinpath(*parts).absolute())


def s3_defaults(storage_options: Mapping[str, str] | None) -> dict[str, str]:
    """Storage options for an S3 root with the conditional-put commit protocol unless told otherwise."""
    options = dict(storage_options or {})
    if not any(k.lower() in _CONCURRENCY_KEYS for k in options):
        options["aws_conditional_put"] = "etag"
    return options


def _first_line(e: BaseException) -> str:
    """delta-rs errors can carry a multi-line backtrace; the first line says what failed."""
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


@contextlib.contextmanager
def delta_errors(what: str, uri: str, action: str) -> Iterator[None]:
    """Turn delta-rs and I/O failures into a LakeError naming the table and what to do."""
    try:
        yield
    except LakeError:
        raise
    except (DeltaError, OSError, ValueError) as e:
        raise LakeError(
            f"{what} at {uri} could not be {action}: {_first_line(e)}. If the table is damaged "
            "(a data file or _delta_log entry missing or corrupt), restore it from backup or roll it back "
            "with DeltaTable.restore(version); DeltaTable.repair() drops references to missing files."
        ) from e


def open_table(uri: str, storage_options: Mapping[str, str] | None, what: str) -> DeltaTable | None:
    """Open the Delta table at uri, or None when no table exists there yet."""
    options = dict(storage_options or {})
    try:
        return DeltaTable(uri, storage_options=options)
    except TableNotFoundError:
        return None
    except (DeltaError, OSError, ValueError) as e:
        raise LakeError(
            f"{what} at {uri} could not be opened: {_first_line(e)}. Its _delta_log is unreadable; "
            "restore the table folder from backup or remove the damaged log entry and re-run."
        ) from e
