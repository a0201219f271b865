"""File drops (the non-tax payment system): daily settlement CSVs in an inbox, each with a
manifest `{"file", "rows", "sha256", "encoding", "settlement_date"}`.

Each file is taken exactly once (state `{"taken": {name: sha256}}`). A file is verified whole
(manifest, checksum, encoding, its full header against the contract, record count) before any of
its rows is yielded; a file that fails is refused — left in the inbox, reported in
`Extraction.problems`, not added to the state — and the other files go on. Records follow RFC 4180:
a quoted field may hold a line break, and the manifest counts records. A broken row does not refuse
its file: it is delivered with `_parse_error` set and its raw text in `_raw`, for the quality stage
to quarantine.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
import logging
import re
from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from connectors.arrow_rows import deleted_array
from connectors.base import Connector, SchemaDiff, SourceProblem
from connectors.csv_records import split_records
from connectors.inbox import ObjectInbox, ObjectInboxFile
from schemas import SettingsError, SourceError

__all__ = ["FiledropConnector"]

log = logging.getLogger(__name__)

_DATE_IN_NAME = re.compile(r"(\d{4})(\d{2})(\d{2})")


class _Refused(Exception):
    """A file fails verification; carries the line number for decode errors."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


class FiledropConnector(Connector):
    """Reads verified settlement files from `config["inbox"]` in name order: a folder, or an object-store
    prefix (`s3://bucket/prefix`) read through `config["filesystem"]` (a pyarrow filesystem).

    Contract options used: `pattern`, `manifest_suffix`, `encoding`, `delimiter`, `header`
    (`label`: the header row holds the Chinese labels; `name`: field names).
    """

    kind = "filedrop"
    checks_each_file = True

    def __init__(self, contract, config, *, batch_size=50_000):  # type: ignore[no-untyped-def]
        super().__init__(contract, config, batch_size=batch_size)
        if not self.config.get("inbox"):
            raise SettingsError(f"{self.source}.inbox", "an inbox folder", self.config.get("inbox"))
        inbox = str(self.config["inbox"])
        self.inbox: Path | ObjectInbox = Path(inbox)
        if "://" in inbox:
            if self.config.get("filesystem") is None:
                raise SettingsError(f"{self.source}.filesystem", f"the object store's filesystem for {inbox}", None)
            self.inbox = ObjectInbox(self.config["filesystem"], inbox, source=self.source)
        options = contract.source.options
        self.pattern = str(options.get("pattern", "*.csv"))
        self.manifest_suffix = str(options.get("manifest_suffix", ".manifest.json"))
        self.encoding = codecs.lookup(str(options.get("encoding", "utf-8"))).name
        self.delimiter = str(options.get("delimiter", ","))
        by = options.get("header", "label")
        self.header_map = {(f.label if by == "label" else f.name): f.name for f in contract.fields}

    # ---- schema --------------------------------------------------------------------------

    def columns(self) -> dict[str, str]:
        """The header of the first file in the inbox (labels mapped to field names; unknown labels kept)."""
        for path in self._files():
            try:
                line = path.read_bytes().split(b"\n", 1)[0].decode(self.encoding).strip("\r\ufeff")
            except (OSError, UnicodeDecodeError):
                continue
            header = next(csv.reader([line], delimiter=self.delimiter), [])
            return {self.header_map.get(h.strip(), h.strip()): "string" for h in header}
        return {}

    def check_schema(self) -> SchemaDiff:
        """New and missing columns of the first file's header compared with the contract (all text).

        A look at the inbox only: while reading, every file's full header is checked (`_check_header`).
        """
        return self._diff(self.columns(), lambda want, got: True)

    # ---- extraction ----------------------------------------------------------------------

    def _files(self) -> list[Path] | list[ObjectInboxFile]:
        if isinstance(self.inbox, ObjectInbox):
            return self.inbox.files(self.pattern, exclude_suffix=self.manifest_suffix)
        if not self.inbox.is_dir():
            raise SourceError(self.source, f"inbox folder '{self.inbox}' does not exist or is not a folder")
        return sorted(
            p for p in self.inbox.glob(self.pattern) if p.is_file() and not p.name.endswith(self.manifest_suffix)
        )

    def _run(
        self, state: Mapping[str, Any] | None, problems: list[SourceProblem], batch_size: int
    ) -> Generator[pa.RecordBatch, None, dict[str, Any]]:
        taken: dict[str, str] = dict((state or {}).get("taken") or {})
        newest = max(taken) if taken else None
        for path in self._files():
            name = path.name
            manifest_path = path.with_name(name + self.manifest_suffix)
            if not manifest_path.is_file():
                problems.append(SourceProblem(self.source, name, "not ready: no manifest yet", severity="info"))
                continue
            try:
                data = path.read_bytes()
            except OSError as e:
                raise SourceError(self.source, f"cannot read '{path}': {e}", retryable=True) from e
            sha = hashlib.sha256(data).hexdigest()
            if name in taken:
                if taken[name] == sha:
                    reason = "already taken (identical re-send skipped)"
                    problems.append(SourceProblem(self.source, name, reason, severity="info"))
                else:
                    reason = (
                        f"refused: a file of this name was already taken with sha256 {taken[name]}, this one "
                        f"has {sha}; a correction must come under a new name or be resolved with the provider"
                    )
                    problems.append(SourceProblem(self.source, name, reason))
                continue
            try:
                header, lines, note = self._verify(name, data, sha, manifest_path)
            except _Refused as e:
                log.warning("%s: refused %s: %s", self.source, name, e.reason)
                problems.append(SourceProblem(self.source, name, f"refused: {e.reason}", line=e.line))
                continue
            if note:
                problems.append(note)
            del data
            if newest is not None and name < newest:
                problems.append(
                    SourceProblem(
                        self.source,
                        name,
                        f"arrived out of order (after {newest} was taken); taken now",
                        severity="info",
                    )
                )
            yield from self._batches(name, header, lines, batch_size)
            taken[name] = sha
        return {"taken": taken}

    def _verify(
        self, name: str, data: bytes, sha: str, manifest_path: Path
    ) -> tuple[list[str], list[tuple[int, str]], SourceProblem | None]:
        """Check the manifest, checksum, encoding, full header and record count; return the header, the
        records with their first line numbers, and a note on a header taken under `evolve`."""
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise _Refused(f"manifest {manifest_path.name} is unreadable ({e})") from e
        if not isinstance(manifest, dict) or not {"file", "rows", "sha256"} <= set(manifest):
            raise _Refused(f"manifest {manifest_path.name} lacks file/rows/sha256")
        if manifest["file"] != name:
            raise _Refused(f"manifest names file {manifest['file']!r}")
        if str(manifest["sha256"]).lower() != sha:
            raise _Refused(f"sha256 mismatch: manifest {manifest['sha256']}, file {sha} (truncated or altered?)")
        if manifest.get("encoding") and _codec(manifest["encoding"]) != self.encoding:
            raise _Refused(f"manifest says encoding {manifest['encoding']!r}, the contract {self.encoding!r}")
        named = _DATE_IN_NAME.search(name)
        stated = str(manifest.get("settlement_date") or "").replace("-", "")
        if named and stated and named.group(0) != stated:
            raise _Refused(f"settlement_date {manifest['settlement_date']} does not match the file name")
        try:
            text = data.decode(self.encoding)
        except UnicodeDecodeError as e:
            line = data.count(b"\n", 0, e.start) + 1
            raise _Refused(f"cannot decode as {self.encoding} at byte {e.start}", line=line) from e
        records = split_records(text, delimiter=self.delimiter)
        if not records:
            raise _Refused("empty file: no header row")
        header_line, header_text = records[0]
        header = [h.strip() for h in next(csv.reader([header_text.lstrip("\ufeff")], delimiter=self.delimiter))]
        if not set(header) & set(self.header_map):
            raise _Refused(f"header row matches none of the contract's columns: {header[:5]}...", line=header_line)
        note = self._check_header(name, header, header_line)
        rows = len(records) - 1  # records, not lines: a quoted field may hold a line break
        if int(manifest["rows"]) != rows:
            raise _Refused(f"row count mismatch: manifest {manifest['rows']}, file {rows} (truncated?)")
        return header, records[1:], note

    def _check_header(self, name: str, header: list[str], line: int) -> SourceProblem | None:
        """Every file's full header against the contract: a duplicate column is always refused; a new or
        missing column is refused unless the contract's `schema_drift` is `evolve` (then a note is returned)."""
        duplicated = sorted({h for h in header if header.count(h) > 1})
        if duplicated:
            raise _Refused(
                f"表头有重复列：{'、'.join(duplicated)}，无法确定取哪一列；请数据提供方更正后重新报送 / the header "
                f"repeats column(s) {duplicated}: which one holds the value is ambiguous; ask the provider to "
                "re-send the file",
                line=line,
            )
        new = [h for h in header if h not in self.header_map]
        missing = [label for label in self.header_map if label not in header]
        if not new and not missing:
            return None
        policy = self.contract.schema_drift
        parts_zh = [f"新增列：{'、'.join(new)}"] if new else []
        parts_zh += [f"缺少列：{'、'.join(missing)}"] if missing else []
        parts_en = [f"new column(s) {new}"] if new else []
        parts_en += [f"missing column(s) {[f'{m} ({self.header_map[m]})' for m in missing]}"] if missing else []
        drift_zh, drift_en = "；".join(parts_zh), "; ".join(parts_en)
        if policy == "evolve":
            reason = (
                f"表头与数据契约不一致（{drift_zh}），按 schema_drift: evolve 接收：新增列忽略，缺少列为空 / header "
                f"differs from the contract ({drift_en}); taken under schema_drift: evolve: new columns ignored, "
                "missing ones empty"
            )
            return SourceProblem(self.source, name, reason, line=line, severity="info")
        raise _Refused(
            f"表头与数据契约不一致（{drift_zh}），数据契约的 schema_drift 策略为 {policy}，整个文件拒收并保留在收件箱；"
            f"请数据提供方按契约列重新报送，或更新数据契约后重新运行 / header differs from the contract "
            f"({drift_en}) under schema_drift: {policy}; the file is refused and kept in the inbox: ask the "
            "provider to re-send it with the contract's columns, or update the contract and re-run",
            line=line,
        )

    def _batches(
        self, name: str, header: list[str], lines: list[tuple[int, str]], batch_size: int
    ) -> Iterator[pa.RecordBatch]:
        fields = self.contract.field_names
        position = {self.header_map[h]: i for i, h in enumerate(header) if h in self.header_map}
        width = len(header)
        for start in range(0, len(lines), batch_size):
            chunk = lines[start : start + batch_size]
            columns: dict[str, list[str | None]] = {f: [] for f in fields}
            errors: list[str | None] = []
            raws: list[str | None] = []
            for _, text in chunk:
                values, error = self._parse(text, width)
                errors.append(error)
                raws.append(text if error else None)
                for f in fields:
                    i = position.get(f)
                    # an empty cell is a missing value (CSV has no other way to say null)
                    columns[f].append((values[i] or None) if values is not None and i is not None else None)
            arrays = [pa.array(columns[f], type=pa.string()) for f in fields]
            names = list(fields)
            flag = self.contract.source.deleted_flag
            if flag and flag in columns:
                names.append("_deleted")
                arrays.append(deleted_array(pa.array(columns[flag], type=pa.string())))
            names += ["_source_file", "_source_line", "_parse_error", "_raw"]
            arrays += [
                pa.array([name] * len(chunk), type=pa.string()),
                pa.array([n for n, _ in chunk], type=pa.int64()),
                pa.array(errors, type=pa.string()),
                pa.array(raws, type=pa.string()),
            ]
            yield pa.RecordBatch.from_arrays(arrays, names=names)

    def _parse(self, text: str, width: int) -> tuple[list[str] | None, str | None]:
        """One record (see `split_records`): a bad quote or a wrong column count spoils only that record."""
        try:
            values = next(csv.reader([text], delimiter=self.delimiter, strict=True))
        except csv.Error as e:
            return None, f"bad quoting: {e}"
        if len(values) != width:
            return None, f"expected {width} columns, got {len(values)}"
        return values, None


def _codec(name: str) -> str:
    try:
        return codecs.lookup(str(name)).name
    except LookupError:
        return str(name)
