"""Ways a settlement file goes wrong, for tests: cut short, undecodable, re-sent, mis-described."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Literal

from simulators.nontax import manifest_path

__all__ = ["flip_bytes", "resend", "truncate", "wrong_manifest"]


def _rewrite_sha(csv_path: Path) -> None:
    m = manifest_path(csv_path)
    manifest = json.loads(m.read_text(encoding="utf-8"))
    manifest["sha256"] = hashlib.sha256(csv_path.read_bytes()).hexdigest()
    m.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")


def truncate(csv_path: Path, *, keep: float = 0.5, fix_manifest: bool = False) -> int:
    """Cut the file after `keep` of its bytes (mid-row, as an interrupted transfer does); returns the size.

    The manifest keeps describing the whole file unless `fix_manifest` (then only its sha256 is updated,
    so the row count still disagrees).
    """
    data = csv_path.read_bytes()
    cut = max(1, int(len(data) * keep))
    csv_path.write_bytes(data[:cut])
    if fix_manifest:
        _rewrite_sha(csv_path)
    return cut


def flip_bytes(csv_path: Path, *, count: int = 3, fix_manifest: bool = True) -> list[int]:
    """Overwrite `count` bytes in data rows with 0xFF (never valid in GBK); returns their offsets.

    By default the manifest's sha256 is updated so the damage shows at decoding, not at the checksum.
    """
    data = bytearray(csv_path.read_bytes())
    header_end = data.index(b"\n") + 1
    span = len(data) - header_end
    offsets = [header_end + (span * (k + 1)) // (count + 1) for k in range(count)]
    for off in offsets:
        data[off] = 0xFF
    csv_path.write_bytes(bytes(data))
    if fix_manifest:
        _rewrite_sha(csv_path)
    return offsets


def resend(csv_path: Path, inbox: Path, *, name: str | None = None) -> Path:
    """Deliver a file (and its manifest) into `inbox` again, under its own name or `name`."""
    target = Path(inbox) / (name or csv_path.name)
    if target.resolve() != csv_path.resolve():
        shutil.copyfile(csv_path, target)
    manifest = json.loads(manifest_path(csv_path).read_text(encoding="utf-8"))
    manifest["file"] = target.name
    manifest_path(target).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return target


def wrong_manifest(csv_path: Path, *, what: Literal["rows", "sha256", "file", "missing"] = "rows") -> None:
    """Make the manifest lie about the file: a wrong row count, checksum or name, or remove it."""
    m = manifest_path(csv_path)
    if what == "missing":
        m.unlink()
        return
    manifest = json.loads(m.read_text(encoding="utf-8"))
    if what == "rows":
        manifest["rows"] += 1
    elif what == "sha256":
        manifest["sha256"] = "0" * 64
    else:
        manifest["file"] = "settlement_19700101.csv"
    m.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
