"""A hash chain's rows read from PostgreSQL with COPY and rendered to canonical JSON in Arrow, a batch at a time.

PostgreSQL rendering each row's JSON with `concat`/`to_json`/`to_char` cost the server ~6x the CPU of
the walk's hashing: the walk ran at 45,922 events/s with the walker's own processes at 167,458 events
per CPU second. Here the server only writes its stored values as COPY text (each type's plain output
function, one line per row), `pyarrow.csv` parses a batch in C++ and `pyarrow.compute` builds the
canonical JSON of every row with whole-column string kernels; Python touches each row once, to hash it
(`core.chainwalk.walk_rows`).

Rendering is exact or refuses: a value whose canonical JSON these kernels do not reproduce byte for
byte (a string needing a JSON escape, a time outside `YYYY-MM-DD HH:MM:SS[.f]`, a number in exponent
form, negative, or too near a rounding tie, JSON text with a COPY escape other than `\\\\`) turns its
row into bytes no canonical JSON starts with, so the row's hash cannot match and the caller re-checks
it exactly. Every value that *is* rendered is rendered injectively (a string cannot close its quotes),
so a match means the stored values are the ones that were hashed.

Imports only the standard library and, when called, pyarrow and the driver's connection (a spawned
worker stays cheap to start).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "REFUSED", "CopySpec", "copy_batches", "copy_statement", "render", "usable"]

KINDS = frozenset({"seq", "int", "text", "time", "fixed3", "json"})
"""How a column renders: the seq (an integer, also the chain's order), a bare integer, a JSON string,
a UTC time as a `"YYYY-MM-DDTHH:MM:SS.ffffffZ"` string, a float as a string with three decimals,
or JSON text kept verbatim; `literal:<json>` renders a constant that is not a column."""
REFUSED = b"\x01"
"""What a row the kernels cannot render exactly becomes: no canonical JSON is these bytes."""
_TIME = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$"
_FIXED = r"^\d{1,12}(\.\d+)?$"  # no sign (-0 renders "-0.000"), no exponent, NaN or Infinity


@dataclass(frozen=True)
class CopySpec:
    """A chain table: its key, link and hash columns, and the hashed object's members in written order."""

    table: str
    fields: tuple[tuple[str, str], ...]
    """(name, kind) in the canonical (sorted) key order; see `KINDS`."""
    seq: str = "seq"
    link: str = "prev_hash"
    digest: str = "hash"

    def columns(self) -> list[str]:
        """The columns COPY writes, in order: seq, link, hash, then every non-literal field but those."""
        own = [n for n, kind in self.fields if not kind.startswith("literal:") and n not in (self.seq, self.link)]
        return [self.seq, self.link, self.digest, *own]


def copy_statement(spec: CopySpec, lo: int, hi: int) -> str:
    """COPY of rows lo < seq <= hi in seq order, times as UTC text (the session's zone cannot change them)."""
    kinds = dict(spec.fields)
    select = ", ".join(f"({c} AT TIME ZONE 'UTC')" if kinds.get(c) == "time" else c for c in spec.columns())
    return (
        f"COPY (SELECT {select} FROM {spec.table} WHERE {spec.seq} > {int(lo)} AND {spec.seq} <= {int(hi)} "
        f"ORDER BY {spec.seq}) TO STDOUT"
    )


Pieces = tuple[list[Any], Any]
"""A value's parts in the row's join (constants and arrays, null where the value is null) and its refusals."""


def _time(pc: Any, column: Any) -> Pieces:
    """`YYYY-MM-DD HH:MM:SS[.f]` (PostgreSQL trims the fraction's zeros) as `"YYYY-MM-DDTHH:MM:SS.ffffffZ"`."""
    bad = pc.invert(pc.match_substring_regex(column, _TIME))
    date = pc.utf8_slice_codeunits(column, 0, 10)
    clock = pc.utf8_slice_codeunits(column, 11, 19)
    fraction = pc.utf8_rpad(pc.utf8_slice_codeunits(column, 20, 26), width=6, padding="0")
    return ['"', date, "T", clock, ".", fraction, 'Z"'], bad


def _fixed3(pa: Any, pc: Any, column: Any) -> Pieces:
    """Python's f"{x:.3f}": round-half-even of x*1000 when no rounding tie is within the product's error."""
    ok = pc.match_substring_regex(column, _FIXED)
    x = pc.cast(pc.if_else(ok, column, "0"), pa.float64())
    m = pc.multiply(x, 1000.0)
    n = pc.round(m, 0, round_mode="half_to_even")
    tie = pc.abs(pc.subtract(pc.subtract(m, pc.floor(m)), 0.5))
    near = pc.less_equal(tie, pc.add(pc.multiply(m, 4e-16), 1e-12))
    ints = pc.cast(n, pa.int64())
    whole = pc.divide(ints, 1000)
    frac = pc.utf8_lpad(pc.cast(pc.subtract(ints, pc.multiply(whole, 1000)), pa.string()), width=3, padding="0")
    return ['"', pc.cast(whole, pa.string()), ".", frac, '"'], pc.or_(pc.invert(ok), near)


def _json(pc: Any, column: Any) -> Pieces:
    """JSON text verbatim; COPY doubles its backslashes, and any other COPY escape means a raw control char."""
    bad = pc.match_substring(pc.replace_substring(column, "\\\\", ""), "\\")
    return [pc.replace_substring(column, "\\\\", "\\")], bad


def _escapes(pa: Any, columns: list[Any], rows: int) -> Any:
    """Rows where a string holds a byte JSON escapes (`"`, a backslash: also how COPY escapes, or a control
    character): one pass over each column's data buffer, not a kernel per value; None when there are none."""
    import numpy as np

    found = None
    for column in columns:
        offsets = np.frombuffer(column.buffers()[1], dtype=np.int32, count=rows + 1, offset=column.offset * 4)
        data = np.frombuffer(column.buffers()[2] or b"", dtype=np.uint8)[offsets[0] : offsets[-1]]
        bad = np.flatnonzero((data < 0x20) | (data == 0x22) | (data == 0x5C))
        if bad.size:
            hit = np.zeros(rows, dtype=bool)
            hit[np.searchsorted(offsets, bad + offsets[0], side="right") - 1] = True
            found = hit if found is None else found | hit
    return None if found is None else pa.array(found)


class _Constants:
    """Constant string arrays valid only where a value is (or is not) null: `null_handling="skip"` then
    joins a nullable value's quotes, or its `null`, with no kernel per column."""

    def __init__(self, pa: Any, pc: Any, rows: int) -> None:
        self.pa, self.pc, self.rows = pa, pc, rows
        self.made: dict[str, tuple[Any, Any]] = {}

    def masked(self, text: str, validity: Any) -> Any:
        pa, rows = self.pa, self.rows
        if text not in self.made:
            size = len(text.encode())
            offsets = pa.array(range(0, size * (rows + 1), size), pa.int32()).buffers()[1]
            self.made[text] = (offsets, pa.py_buffer(text.encode() * rows))
        offsets, data = self.made[text]
        return pa.Array.from_buffers(pa.string(), rows, [validity, offsets, data])

    def value(self, pieces: list[Any], present: Any) -> list[Any]:
        """`pieces` where `present` is valid, `null` where it is null."""
        if present.null_count == 0:
            return pieces
        valid = present.buffers()[0]
        missing = self.pc.is_null(present).buffers()[1]
        return [self.masked(p, valid) if isinstance(p, str) else p for p in pieces] + [self.masked("null", missing)]


def render(spec: CopySpec, table: Any, *, copy_text: bool = True) -> tuple[Any, Any]:
    """The canonical JSON of every row of `table` (COPY's columns as strings, seq as int64), a binary array,
    and which rows it could not render exactly (a boolean array; None when none).

    `copy_text=False`: the strings are plain values, not COPY text (no COPY escapes to undo in JSON text);
    the caller then vouches that each JSON text is one whole JSON value (e.g. it parsed it).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    table = table.combine_chunks()
    constants = _Constants(pa, pc, table.num_rows)
    parts: list[Any] = []
    flags: list[Any] = []
    texts: list[Any] = []
    for i, (name, kind) in enumerate(spec.fields):
        parts.append(("{" if i == 0 else ",") + json.dumps(name, ensure_ascii=False) + ":")
        if kind.startswith("literal:"):
            parts.append(kind.removeprefix("literal:"))
            continue
        column = table.column(name).chunk(0) if table.num_rows else pa.array([], pa.string())
        pieces: list[Any]
        bad = None
        if kind == "seq":
            pieces = [pc.cast(column, pa.string())]
        elif kind == "int":
            pieces = [column]
        elif kind == "text":
            texts.append(column)
            pieces = ['"', column, '"']
        elif kind == "time":
            pieces, bad = _time(pc, column)
        elif kind == "fixed3":
            pieces, bad = _fixed3(pa, pc, column)
        elif kind == "json":
            pieces, bad = _json(pc, column) if copy_text else ([column], None)
        else:
            raise ValueError(f"chain field {name!r}: unknown kind {kind!r} (one of {sorted(KINDS)} or literal:)")
        parts += constants.value(pieces, column)
        if bad is not None:
            flags.append(pc.fill_null(bad, False))
    escaped = _escapes(pa, texts, table.num_rows)
    if escaped is not None:
        flags.append(escaped)
    merged: list[Any] = []
    for part in [*parts, "}"]:  # adjacent constants as one scalar
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    rows = pc.binary_join_element_wise(*merged, "", null_handling="skip")
    refused = None
    for flag in flags:
        refused = flag if refused is None else pc.or_(refused, flag)
    return pc.cast(rows, pa.binary()), refused


def _parse(spec: CopySpec, data: bytes) -> Any:
    import pyarrow as pa
    import pyarrow.csv as csv

    names = spec.columns()
    return csv.read_csv(
        pa.BufferReader(data),
        read_options=csv.ReadOptions(column_names=names, use_threads=False, block_size=1 << 22),
        parse_options=csv.ParseOptions(
            delimiter="\t", quote_char=False, escape_char=False, double_quote=False, newlines_in_values=False
        ),
        convert_options=csv.ConvertOptions(
            column_types={n: pa.int64() if n == spec.seq else pa.string() for n in names},
            null_values=["\\N"],
            strings_can_be_null=True,
            # a UTF8 database stores only valid UTF-8; an invalid byte would only be copied into the row
            # (no kernel here turns it into a valid one), so its hash could not match: a third off the parse
            check_utf8=False,
        ),
    )


def _rows(spec: CopySpec, data: bytes) -> list[tuple[int, str, str, bytes]]:
    import pyarrow.compute as pc

    table = _parse(spec, data)
    texts, refused = render(spec, table)
    rows = list(
        zip(
            table.column(spec.seq).to_pylist(),
            table.column(spec.link).to_pylist(),
            table.column(spec.digest).to_pylist(),
            texts.to_pylist(),
            strict=True,
        )
    )
    if refused is not None:
        for i in pc.indices_nonzero(refused).to_pylist():
            rows[i] = (*rows[i][:3], REFUSED)
    return rows


def usable(connection: Any) -> bool:
    """True when the connection writes times in ISO form (COPY text of a time follows DateStyle)."""
    return str(connection.info.parameter_status("DateStyle") or "").startswith("ISO")


def copy_batches(
    connection: Any, spec: CopySpec, lo: int, hi: int, batch: int = 20_000
) -> Iterator[Sequence[tuple[int, str, str, bytes]]]:
    """Rows (seq, link, hash, canonical JSON) lo < seq <= hi, about `batch` at a time, on a psycopg connection.

    Floats are written with every digit (`extra_float_digits` 3, for this transaction only), so the
    text parses back to the stored double.
    """
    cursor = connection.cursor()
    try:
        cursor.execute("SELECT set_config('extra_float_digits', '3', true)")
        with cursor.copy(copy_statement(spec, lo, hi)) as copy:
            pending: list[bytes] = []
            count = 0
            for chunk in copy:
                pending.append(bytes(chunk))
                count += 1
                if count >= batch:
                    data = b"".join(pending)
                    cut = data.rfind(b"\n") + 1
                    pending, count = ([data[cut:]] if cut < len(data) else []), 0
                    if cut:
                        yield _rows(spec, data[:cut])
            data = b"".join(pending)
            if data:
                yield _rows(spec, data)
    finally:
        cursor.close()
