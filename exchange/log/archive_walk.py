"""Archived events checked at line rate: each batch's canonical JSON rendered in Arrow, hashed by OpenSSL.

An archive file's typed columns become the plain strings `core.chaincopy.render` takes (integers and
floats as their shortest text, times as `YYYY-MM-DD HH:MM:SS.ffffff`), so the live walk's whole-column
kernels render every row's hashed bytes (`_walker.COPY_SPEC`) and Python only hashes one string and
compares two per event. Rendering is exact or refuses, as on the live walk: a row the kernels cannot
render byte for byte (a string needing a JSON escape, a float in exponent form or too near a rounding
tie, a time outside years 0001-9999) cannot match its hash, and every row whose hash or link does not
match is re-checked exactly (`event_hash` on the row as a mapping) before it is called changed.

`details` is the one value no kernel checks: each is parsed once (`orjson`, strict: so a match means it
is one whole JSON value, its text cannot reach into the next field's) and used verbatim when it is the
canonical text the hub writes, re-encoded canonically when it is not (files written before archives
kept the stored canonical text used `json.dumps`' spaced separators).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Container, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from core.chaincopy import REFUSED, render
from exchange.log._hashing import canonical_value, event_hash, sm3_hex
from exchange.log._walker import COPY_SPEC
from exchange.log.exact_walk import Point, Walk, mismatch

if TYPE_CHECKING:
    from exchange.log.archive import ArchiveBatch

__all__ = ["BatchWalk", "Rendered", "batch_rows", "batch_texts", "rendered_ahead", "walk_archives", "walk_batch"]

Rendered = tuple[pa.Array, "pa.Array | None"]
"""A batch's rows as hashed bytes (binary) and the rows refused (None when none): `batch_texts`."""


def batch_rows(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """A batch's events as mappings `event_hash` accepts (details parsed); raises on JSON that does not parse."""
    rows: list[dict[str, Any]] = batch.to_pylist()
    for row in rows:
        if row["details"] is not None:
            row["details"] = json.loads(row["details"])
    return rows


def _details(column: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Each details text as it enters the hash, and the rows whose text is not one JSON value."""
    texts: list[str | None] = []
    bad: list[bool] = []
    for text in column.to_pylist():
        if text is None:
            texts.append(None)
            bad.append(False)
            continue
        try:
            if ": " in text or ", " in text:  # spaced separators (or a string holding them): re-encode
                text = canonical_value(json.loads(text)).decode("utf-8")
            else:  # verbatim: it must be one whole JSON value (strict; 3x json.loads' speed)
                orjson.loads(text)
        except Exception:  # not JSON, nested too deep, a lone surrogate: the exact check decides
            texts.append(None)
            bad.append(True)
            continue
        texts.append(text)
        bad.append(False)
    return pa.array(texts, pa.string()), pa.array(bad, pa.bool_())


def batch_texts(batch: pa.RecordBatch) -> Rendered:
    """The canonical JSON of every archived event in `batch` (binary) and the rows refused (None when none);
    every row refused when a column cannot be rendered at all (the exact check then names what is wrong)."""
    try:
        return _render(batch)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        return pa.array([REFUSED] * batch.num_rows, pa.binary()), None


def _render(batch: pa.RecordBatch) -> Rendered:
    columns: dict[str, pa.Array] = {}
    refused: pa.Array | None = None
    for name, kind in COPY_SPEC.fields:
        if kind.startswith("literal:"):
            continue
        column = batch.column(name)
        if kind in ("int", "fixed3"):
            column = pc.cast(column, pa.string())
        elif kind == "time":
            column = pc.utf8_rtrim(pc.cast(column, pa.string()), characters="Z")
        elif kind == "json":
            column, refused = _details(column)
        columns[name] = column
    texts, flagged = render(COPY_SPEC, pa.table(columns), copy_text=False)
    texts = pc.fill_null(texts, pa.scalar(REFUSED, pa.binary()))
    if flagged is not None:
        refused = flagged if refused is None else pc.or_(refused, flagged)
    return texts, refused


@dataclass
class BatchWalk:
    """What a walk of one batch found: how many rows from its start are confirmed, the last confirmed row,
    the stored hash at each pinned seq among them (seq -> (row index, hash)) and the first bad row's index."""

    good: int = 0
    last: tuple[int, str] | None = None
    pinned: dict[int, tuple[int, str]] = field(default_factory=dict)
    bad: int | None = None


def _exact(batch: pa.RecordBatch, i: int, seq: int, link: str) -> bool:
    """Row `i` hashed exactly (`event_hash`): True when it is intact, at `seq` and linked to `link`."""
    try:
        row = batch_rows(batch.slice(i, 1))[0]
        return bool(row["seq"] == seq and row["prev_hash"] == link and event_hash(row) == row["hash"])
    except Exception:
        return False


def walk_batch(
    batch: pa.RecordBatch,
    seq: int,
    link: str,
    pins: Container[int] | Mapping[int, Any] = (),
    rendered_texts: Rendered | None = None,
) -> BatchWalk:
    """Check the batch's rows follow event `seq` with hash `link`: each row's hash, link and seq; stops at the
    first row that fails even the exact check. `pins`: seqs whose stored hash is reported (`BatchWalk.pinned`);
    `rendered_texts`: the batch's `batch_texts` when already made (`rendered_ahead`)."""
    texts, refused = rendered_texts if rendered_texts is not None else batch_texts(batch)
    rendered: list[bytes] = texts.to_pylist()
    if refused is not None:
        for i in pc.indices_nonzero(refused).to_pylist():
            rendered[i] = REFUSED
    seqs: list[int] = batch.column("seq").to_pylist()
    links: list[str] = batch.column("prev_hash").to_pylist()
    hashes: list[str] = batch.column("hash").to_pylist()
    done = BatchWalk()
    base = hashlib.new("sm3") if "sm3" in hashlib.algorithms_available else None
    expect_seq, expect_link = seq + 1, link
    for i, text in enumerate(rendered):
        if base is not None:
            digest = base.copy()
            digest.update(text)
            found = digest.hexdigest()
        else:
            found = sm3_hex(text)
        if (found != hashes[i] or links[i] != expect_link or seqs[i] != expect_seq) and not _exact(
            batch, i, expect_seq, expect_link
        ):
            done.bad = i
            break
        if seqs[i] in pins:
            done.pinned[seqs[i]] = (i, hashes[i])
        expect_seq, expect_link = seqs[i] + 1, hashes[i]
        done.good = i + 1
    if done.good:
        done.last = (seqs[done.good - 1], hashes[done.good - 1])
    return done


class rendered_ahead:
    """Archive batches with their `batch_texts`, the next batch read and rendered in a thread while the caller
    hashes this one (Parquet's decoding and Arrow's kernels run without the GIL). A read error of the next
    batch (an altered or damaged file) is raised only when the caller asks for that batch, so the walk still
    names a changed event before it; `rest()` is every batch not yet handed out, for a walk that stops early."""

    def __init__(self, items: Iterator[ArchiveBatch]) -> None:
        self.items = items
        self.pending: Future[tuple[ArchiveBatch, Rendered] | None] | None = None

    def _fetch(self) -> tuple[ArchiveBatch, Rendered] | None:
        item = next(self.items, None)
        return None if item is None else (item, batch_texts(item.batch))

    def __iter__(self) -> Iterator[tuple[ArchiveBatch, Rendered]]:
        with ThreadPoolExecutor(max_workers=1) as pool:
            self.pending = pool.submit(self._fetch)
            while (ready := self.pending.result()) is not None:
                self.pending = pool.submit(self._fetch)
                yield ready

    def rest(self) -> Iterator[ArchiveBatch]:
        """The batches read but not handed out, then the unread ones (lazily: a read error only when reached)."""
        if self.pending is not None:
            ready = self.pending.result()
            if ready is None:
                return
            yield ready[0]
        yield from self.items


def walk_archives(batches: Iterator[ArchiveBatch], walk: Walk) -> Iterator[Mapping[str, Any]] | None:
    """Advance `walk` over archived events at line rate (`walk_batch`), holding the good checkpoints to the
    hashes found; the rows from the first event that fails even the exact check on (for
    `exact_walk.slow_walk` to classify), None when none did."""
    ahead = rendered_ahead(batches)
    for item, texts in ahead:
        done = walk_batch(item.batch, walk.prev.seq, walk.prev.hash, walk.by_seq, texts)
        last, stop = done.last, done.bad
        for seq, (i, found) in done.pinned.items():
            wrong = next((cp for cp in walk.by_seq[seq] if cp.head_hash != found), None)
            if wrong is not None:
                walk.finding = mismatch(wrong, seq, item.batch.column("event_id")[i].as_py(), found)
                last, stop = (seq, found), i + 1
                break
        if last is not None:
            count = done.good if walk.finding is None else stop or 0
            walk.advance(item.batch.column("seq")[0].as_py(), count, Point(*last))
        if walk.finding is not None:
            return None
        if stop is not None:
            return itertools.chain(item.rows()[stop:], (row for rest in ahead.rest() for row in rest.rows()))
    return None
