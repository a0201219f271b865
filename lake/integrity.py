"""Tamper evidence for curated tables: what each commit wrote (size, SHA-256), and whether it still is.

Delta keeps no checksum of its data files: a byte changed inside a Parquet page, or a file replaced
by another valid Parquet of the same schema, is read back silently. At publish the pipeline records
`commit_manifest(table, version)` with the dataset version; `verify_files` later re-reads the table
folder and names every file changed, missing or unexpected, with the version that wrote it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

import pyarrow.fs as pafs

from lake._fs import filesystem_for
from lake._index_file import INDEX_DIR
from lake._state import CHANGES_DIR as CHANGES
from lake._store import delta_errors, join_uri, open_table

if TYPE_CHECKING:
    from lake.curated import CuratedTable

__all__ = [
    "FileProblem",
    "IntegrityReport",
    "commit_manifest",
    "compaction_manifest",
    "format_integrity",
    "verify_files",
]

LOG_DIR = "_delta_log"
_CHUNK = 1 << 20
# files delta-rs derives from the JSON commits (checkpoints) or writes transiently: not in any manifest;
# a changed checkpoint still shows, as a live file set that differs from the replayed commits
_DERIVED = (".checkpoint.parquet", "_last_checkpoint", ".crc", ".tmp")

Kind = Literal["changed", "missing", "unexpected"]


@dataclass(frozen=True)
class FileProblem:
    """One file that is not what the manifest of `version` says (None: no recorded version wrote it)."""

    kind: Kind
    path: str
    version: int | None
    detail: str


@dataclass(frozen=True)
class IntegrityReport:
    """The outcome of `verify_files` for one table: versions and files checked, every problem found."""

    table: str
    versions_checked: int
    files_checked: int
    problems: tuple[FileProblem, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True when every recorded file is present and unchanged and nothing else is in the table."""
        return not self.problems


def _log_path(version: int, where: str = "") -> str:
    return f"{where + '/' if where else ''}{LOG_DIR}/{version:020d}.json"


def _sha256(fs: pafs.FileSystem, path: str) -> str:
    digest = hashlib.sha256()
    with fs.open_input_stream(path) as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _actions(fs: pafs.FileSystem, path: str) -> list[dict[str, Any]]:
    with fs.open_input_stream(path) as source:
        text = source.read().decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _entry(fs: pafs.FileSystem, base: str, rel: str) -> dict[str, Any]:
    full = f"{base}/{rel}"
    return {"path": rel, "size": fs.get_file_info(full).size, "sha256": _sha256(fs, full)}


def _manifest(table: CuratedTable, where: str, version: int) -> dict[str, Any]:
    with delta_errors(f"curated table '{table.contract.resource}'", table.uri, "checksummed"):
        fs, base = filesystem_for(table.uri, table.storage_options)
        base = base.rstrip("/")
        log_rel = _log_path(version, where)
        prefix = f"{where}/" if where else ""
        added = [
            prefix + unquote(action[kind]["path"])
            for action in _actions(fs, f"{base}/{log_rel}")
            for kind in ("add", "cdc")
            if kind in action
        ]
        return {"log": _entry(fs, base, log_rel), "files": [_entry(fs, base, rel) for rel in added]}


def commit_manifest(table: CuratedTable, version: int) -> dict[str, Any]:
    """The files dataset `version` wrote: its `_delta_log` entry (the base's, or the change table's under
    `_changes/`) and every data and change-data file it added, each as `{"path", "size", "sha256"}`
    (paths relative to the table root). Store it with the dataset version; `verify_files` compares the
    table with it."""
    where, at = table.locate(version)
    return _manifest(table, where, at)


def compaction_manifest(table: CuratedTable, base_version: int) -> dict[str, Any]:
    """The files compaction commit `base_version` of the base wrote (same shape, plus `base_version`).
    Stored with the dataset version it compacted through (`manifest["compactions"]`)."""
    return {"base_version": base_version, **_manifest(table, "", base_version)}


def _listing(fs: pafs.FileSystem, base: str) -> dict[str, int]:
    """Every file under the table root (relative path -> size), derived log files left out."""
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    return {
        info.path[len(base) + 1 :]: info.size
        for info in infos
        if info.type == pafs.FileType.File
        and not info.path.endswith(_DERIVED)
        and not info.path[len(base) + 1 :].startswith(f"{INDEX_DIR}/")
    }


def _check(
    fs: pafs.FileSystem, base: str, entry: Mapping[str, Any], version: int, on_disk: Mapping[str, int]
) -> FileProblem | None:
    rel, what = entry["path"], ("log entry" if entry["path"].startswith(LOG_DIR) else "file")
    if rel not in on_disk:
        return FileProblem("missing", rel, version, f"{what} {rel} written by version {version} is missing")
    if on_disk[rel] != entry["size"]:
        return FileProblem(
            "changed",
            rel,
            version,
            f"{what} {rel} written by version {version} is {on_disk[rel]} bytes, recorded {entry['size']}",
        )
    if entry.get("sha256") is not None and _sha256(fs, f"{base}/{rel}") != entry["sha256"]:
        return FileProblem(
            "changed", rel, version, f"{what} {rel} written by version {version} has changed content (SHA-256)"
        )
    return None


def _replayed_live(fs: pafs.FileSystem, base: str, versions: Iterable[int]) -> set[str]:
    """The data files live after the given commits, replayed from their JSON entries (adds minus removes)."""
    live: set[str] = set()
    for version in versions:
        for action in _actions(fs, f"{base}/{_log_path(version)}"):
            if "add" in action:
                live.add(unquote(action["add"]["path"]))
            elif "remove" in action:
                live.discard(unquote(action["remove"]["path"]))
    return live


def verify_files(table: CuratedTable, manifests: Mapping[int, Mapping[str, Any] | None]) -> IntegrityReport:
    """Compare a curated table's folder with the manifests recorded at publish (version -> manifest).

    Reports recorded files (log entries, data and change-data files) that are missing or changed
    (size, then SHA-256), files and log entries no recorded version wrote (`unexpected`), and a live
    file set, as delta-rs reads it, that differs from the recorded commits replayed (an altered
    checkpoint). A version recorded without a manifest (published before manifests were kept) is
    checked for presence and size from its own log entry only, and named in `notes`.
    """
    name = f"curated table '{table.contract.resource}'"
    with delta_errors(name, table.uri, "verified"):
        fs, base = filesystem_for(table.uri, table.storage_options)
        base = base.rstrip("/")
        on_disk = _listing(fs, base)
        problems: list[FileProblem] = []
        notes: list[str] = []
        expected: set[str] = set()
        checked = 0
        legacy = sorted(v for v, m in manifests.items() if not m)
        for version in sorted(manifests):
            manifest = manifests[version]
            if not manifest:
                where, at = table.locate(version)
                log_rel = _log_path(at, where)
                entries: list[Mapping[str, Any]] = [{"path": log_rel, "size": on_disk.get(log_rel), "sha256": None}]
                if log_rel in on_disk:
                    entries += [
                        {
                            "path": (f"{where}/" if where else "") + unquote(a[k]["path"]),
                            "size": a[k].get("size"),
                            "sha256": None,
                        }
                        for a in _actions(fs, f"{base}/{log_rel}")
                        for k in ("add", "cdc")
                        if k in a
                    ]
            else:
                entries = [manifest["log"], *manifest["files"]]
                for compaction in manifest.get("compactions", []):
                    entries += [compaction["log"], *compaction["files"]]
            for entry in entries:
                expected.add(entry["path"])
                checked += 1
                problem = _check(fs, base, entry, version, on_disk)
                if problem is not None:
                    problems.append(problem)
        if legacy:
            notes.append(
                f"version(s) {', '.join(map(str, legacy))} were recorded without file checksums: "
                "their files were checked for presence and size only"
            )
        for rel in sorted(set(on_disk) - expected):
            log_dir = _log_dir_of(rel)
            if log_dir is not None and rel.endswith(".json") and rel[len(log_dir) + 1 : -5].isdigit():
                version = int(rel[len(log_dir) + 1 : -5])
                detail = (
                    f"log entry {rel} (version {version}) belongs to no published version: a commit made outside "
                    "the pipeline, or one not yet registered (the next ingest registers a crashed run's commit, "
                    "the next `govhub lake compact` a crashed compaction's)"
                )
            else:
                detail = f"file {rel} was written by no published version: planted, or left by an interrupted write"
            problems.append(FileProblem("unexpected", rel, None, detail))
        if manifests and not any(_log_dir_of(p.path) is not None for p in problems):
            for where in ("", CHANGES):
                problems += _live_set_problems(table, fs, base, where, name)
            if not problems:  # the row index files against a scan (derived data: counted, not manifested)
                problems += [
                    FileProblem(
                        "changed",
                        rel,
                        None,
                        f"row index {rel} disagrees with the table: {why}; delete it "
                        "(the next run rebuilds it by a scan)",
                    )
                    for rel, why in table.row_index_problems()
                ]
    return IntegrityReport(name, len(manifests), checked, tuple(problems), tuple(notes))


def _log_dir_of(rel: str) -> str | None:
    """The log folder a path lies in (`_delta_log` or `_changes/_delta_log`), None for data files."""
    for log_dir in (LOG_DIR, f"{CHANGES}/{LOG_DIR}"):
        if rel == log_dir or rel.startswith(f"{log_dir}/"):
            return log_dir
    return None


def _live_set_problems(table: CuratedTable, fs: pafs.FileSystem, base: str, where: str, name: str) -> list[FileProblem]:
    """The live file set of the base (or the change table) as delta-rs reads it vs its commits replayed."""
    uri = join_uri(table.uri, where) if where else table.uri
    dt = open_table(uri, table.storage_options, name)
    if dt is None:
        if where:
            return []  # a table without a change table (written before merge-on-read, or never changed)
        return [FileProblem("missing", LOG_DIR, None, f"the table's {LOG_DIR} is gone")]
    folder = f"{base}/{where}" if where else base
    replayed = _replayed_live(fs, folder, range(dt.version() + 1))
    read = {unquote(p) for p in dt.get_add_actions(flatten=True).column("path").to_pylist()}
    if read == replayed:
        return []
    extra, gone = sorted(read - replayed), sorted(replayed - read)
    log_dir = f"{where}/{LOG_DIR}" if where else LOG_DIR
    detail = (
        f"the files delta-rs reads at version {dt.version()} of {log_dir} differ from the recorded commits replayed "
        f"(reads {len(extra)} file(s) the commits leave out, e.g. {extra[:1]}; misses {len(gone)} they leave "
        f"live, e.g. {gone[:1]}): a checkpoint in the log was altered"
    )
    return [FileProblem("changed", log_dir, None, detail)]


def format_integrity(report: IntegrityReport) -> str:
    """One paragraph per table for `govhub lake verify`."""
    notes = f" Note: {'; '.join(report.notes)}." if report.notes else ""
    if report.ok:
        return (
            f"{report.table}: intact — {report.files_checked} file(s) of {report.versions_checked} version(s) "
            f"match their recorded size and SHA-256; no unexpected files.{notes}"
        )
    lines = [
        f"{report.table}: TAMPERED — {len(report.problems)} problem(s) in {report.files_checked} file(s) of "
        f"{report.versions_checked} version(s):"
    ]
    lines += [f"  {p.kind}: {p.detail}" for p in report.problems]
    lines.append(
        "  Restore the named files (or the table folder) from backup; a changed data file serves wrong rows "
        f"to deliveries and verification until it is restored.{notes}"
    )
    return "\n".join(lines)
