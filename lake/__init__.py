"""The lake: curated and quarantine Delta tables, staging files and the object store, local or S3."""

from lake.curated import CommitInfo, CommitRefused, CompactionInfo, CuratedTable
from lake.integrity import (
    FileProblem,
    IntegrityReport,
    commit_manifest,
    compaction_manifest,
    format_integrity,
    verify_files,
)
from lake.keyset import KeySet
from lake.lake import Lake
from lake.objects import ObjectStore
from lake.quarantine import QuarantineTable
from lake.staging import StagingArea
from lake.views import view_sql

__all__ = [
    "CommitInfo",
    "CommitRefused",
    "CompactionInfo",
    "CuratedTable",
    "FileProblem",
    "IntegrityReport",
    "KeySet",
    "Lake",
    "ObjectStore",
    "QuarantineTable",
    "StagingArea",
    "commit_manifest",
    "compaction_manifest",
    "format_integrity",
    "verify_files",
    "view_sql",
]
