"""The non-tax payment system: daily settlement files (GBK CSV + manifest) in an inbox, and a ledger.

The ledger (its own SQLite file) remembers settled payments so later days can refund them: a
refund is a later row with the same `payment_code` and status 2. Files are written the way real
systems do: CSV first, manifest last, each through a temporary name and an atomic rename.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hashlib
import io
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from schemas import SourceError, load_contract
from simulators import _vocab as v
from simulators.bad import FILE_BAD_KINDS, BadRecord
from simulators.generate import Table, _choice, inject

__all__ = [
    "generate_payments",
    "manifest_path",
    "settlement_name",
    "write_settlement",
]

_LEDGER_DDL = (
    "CREATE TABLE IF NOT EXISTS payment_ledger (payment_code TEXT PRIMARY KEY, "
    "settlement_date TEXT NOT NULL, refunded INTEGER NOT NULL DEFAULT 0, row_json TEXT NOT NULL)"
)


def settlement_name(day: dt.date) -> str:
    """`settlement_YYYYMMDD.csv`: matches the contract's `source.pattern`."""
    pattern = load_contract("payment").source.options["pattern"]
    return pattern.replace("*", f"{day:%Y%m%d}")


def manifest_path(csv_path: Path) -> Path:
    """The manifest beside a settlement file (`<file><manifest_suffix>`)."""
    return csv_path.with_name(csv_path.name + load_contract("payment").source.options["manifest_suffix"])


def generate_payments(
    n: int, payers: list[tuple[str, str]], *, seed: int, day: dt.date, bad_share: float
) -> tuple[Table, dict[str, np.ndarray]]:
    """`n` payments settled on `day` by `payers` ((name, id) of valid residents), all values as CSV text."""
    contract = load_contract("payment")
    rng = np.random.default_rng([seed, 4, n, day.toordinal()])
    if not payers:
        raise ValueError("generate_payments needs at least one payer from the population registry")
    who = rng.integers(0, len(payers), n).tolist()
    coll = rng.integers(0, len(v.COLLECTORS), n).tolist()
    item_pick, scale = rng.integers(0, 1 << 20, n).tolist(), rng.lognormal(0.0, 0.6, n).tolist()
    start = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(16, 0))
    paid_s = np.sort(rng.integers(0, 86_400, n))
    late = (rng.random(n) < 0.05).tolist()
    receipt = (rng.random(n) < 0.9).tolist()
    channels = _choice(rng, v.CHANNEL_WEIGHTS, n).tolist()
    # Column by column (list comprehensions, numpy for the times): 10 M payments in minutes, not tens of them.
    collectors = [v.COLLECTORS[c] for c in coll]
    items = [col[2][p % len(col[2])] for col, p in zip(collectors, item_pick, strict=True)]
    amounts = [
        typical if "工本费" in item_name else max(1.0, round(typical * s, 0))
        for (_, item_name, typical), s in zip(items, scale, strict=True)
    ]
    paid_at = np.datetime_as_string(np.datetime64(start, "s") + np.array(paid_s, dtype="timedelta64[s]"), unit="s")
    code_prefix, receipt_prefix = f"4309{day:%Y%m%d}", f"{day.toordinal() % 10_000:04d}"
    receipt_code = f"4309{day:%y}01"
    payer = [payers[w] for w in who]
    columns: dict[str, list[Any]] = {
        "payment_code": [f"{code_prefix}{i:08d}" for i in range(1, n + 1)],
        "collector_code": [c[0] for c in collectors],
        "collector_name": [c[1] for c in collectors],
        "item_code": [it[0] for it in items],
        "item_name": [it[1] for it in items],
        "fiscal_region": [c[0][:6] for c in collectors],
        "payer_name": [p[0] for p in payer],
        "payer_id": [p[1] for p in payer],
        "amount": [f"{a:.2f}" for a in amounts],
        "late_fee": [f"{a * 0.03:.2f}" if x else "" for a, x in zip(amounts, late, strict=True)],
        "paid_at": [t.replace("T", " ") for t in paid_at.tolist()],
        "channel": channels,
        "receipt_code": [receipt_code if r else "" for r in receipt],
        "receipt_number": [f"{receipt_prefix}{i:06d}" if r else "" for i, r in enumerate(receipt, 1)],
        "status": ["1"] * n,
        "settlement_date": [day.isoformat()] * n,
    }
    if set(columns) != set(contract.field_names):
        raise AssertionError(f"payment generator columns {sorted(columns)} != contract fields")
    cols = {f: columns[f] for f in contract.field_names}
    table = Table("payment", cols, good=np.ones(n, dtype=bool))
    planned = inject(table, contract, rng, bad_share, FILE_BAD_KINDS)
    for k in cols:  # a missing value in a CSV is an empty field
        cols[k] = ["" if x is None else x for x in cols[k]]
    return table, planned


def write_settlement(
    inbox: Path,
    day: dt.date,
    table: Table,
    planned: dict[str, np.ndarray],
    *,
    refunds: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> tuple[Path, list[BadRecord]]:
    """Write `settlement_YYYYMMDD.csv` (GBK, Chinese header) and then its manifest; returns the file and
    the file-level bad records (duplicated keys, broken rows) it added."""
    contract = load_contract("payment")
    names = contract.field_names
    dup = set(planned.get("duplicate_key", np.empty(0)).tolist())
    broken = set(planned.get("broken_row", np.empty(0)).tolist())
    name = settlement_name(day)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([f.label for f in contract.fields])
    bad: list[BadRecord] = []
    all_rows = list(zip(*(table.columns[n] for n in names), strict=True))
    rows, done = 0, 0
    for i in [*sorted(dup | broken), len(all_rows)]:  # plain rows in runs (writerows), damaged ones one by one
        writer.writerows(all_rows[done:i])
        rows += i - done
        if i == len(all_rows):
            break
        values = list(all_rows[i])
        if i in broken:
            values = values[:-1]
            bad.append(BadRecord("payment", "broken_row", values[0], None, len(values), file=name))
        writer.writerow(values)
        rows += 1
        if i in dup:
            writer.writerow(values)
            rows += 1
            bad.append(BadRecord("payment", "duplicate_key", values[0], names[0], values[0], file=name))
        done = i + 1
    for refund in refunds:
        writer.writerow([refund[n] for n in names])
        rows += 1
    try:
        data = buf.getvalue().encode(contract.source.options.get("encoding", "gbk"))
    except UnicodeEncodeError as e:
        raise SourceError("nontax", f"settlement {name} has text GBK cannot encode: {e}") from e
    path = Path(inbox) / name
    _atomic_write(path, data)
    manifest = {
        "file": name,
        "rows": rows,
        "sha256": hashlib.sha256(data).hexdigest(),
        "encoding": "gbk",
        "settlement_date": day.isoformat(),
    }
    _atomic_write(manifest_path(path), json.dumps(manifest, ensure_ascii=False, indent=1).encode())
    return path, [*(dataclasses.replace(b, file=name) for b in table.bad), *bad]


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def ledger_add(ledger: Path, table: Table) -> None:
    """Remember the good payments of a settlement so later days can refund them."""
    names = list(table.columns)
    good, texts = table.good.tolist(), _rows_json(table.columns)
    codes, dates = table.columns[names[0]], table.columns["settlement_date"]
    with sqlite3.connect(ledger) as conn:
        conn.execute(_LEDGER_DDL)
        conn.executemany(
            "INSERT OR IGNORE INTO payment_ledger (payment_code, settlement_date, row_json) VALUES (?, ?, ?)",
            [(code, date, row_json) for ok, code, date, row_json in zip(good, codes, dates, texts, strict=True) if ok],
        )


def _rows_json(columns: dict[str, list[Any]]) -> list[str]:
    """`json.dumps` of each row as a dict, escaped column by column when every value is text (5x faster)."""
    names = list(columns)
    if any(set(map(type, columns[n])) - {str} for n in names):
        return [json.dumps(dict(zip(names, row, strict=True))) for row in zip(*columns.values(), strict=True)]
    escape = json.encoder.encode_basestring_ascii  # what json.dumps uses for str keys and values
    template = "{" + ", ".join(f"{escape(n)}: %s" for n in names) + "}"
    escaped = [list(map(escape, columns[n])) for n in names]
    return [template % row for row in zip(*escaped, strict=True)]


def ledger_refunds(ledger: Path, *, day: dt.date, share: float, seed: int) -> list[dict[str, Any]]:
    """Refund `share` of the not-yet-refunded payments settled before `day`: same code, status 2."""
    # Streams the candidates' codes in order and loads only the picked rows: a 10 M-row ledger stays on disk.
    where, args = "WHERE refunded = 0 AND settlement_date < ?", (day.isoformat(),)
    with sqlite3.connect(ledger) as conn:
        conn.execute(_LEDGER_DDL)
        (count,) = conn.execute(f"SELECT COUNT(*) FROM payment_ledger {where}", args).fetchone()
        k = min(count, round(count * share))
        picked = sorted(np.random.default_rng([seed, 5, day.toordinal()]).choice(count, k, replace=False).tolist())
        codes: list[str] = []
        ranks = iter(picked)
        want = next(ranks, None)
        for rank, (code,) in enumerate(
            conn.execute(f"SELECT payment_code FROM payment_ledger {where} ORDER BY payment_code", args)
        ):
            if rank == want:
                codes.append(code)
                want = next(ranks, None)
                if want is None:
                    break
        found: dict[str, str] = {}
        for i in range(0, len(codes), 500):
            chunk = codes[i : i + 500]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT payment_code, row_json FROM payment_ledger WHERE payment_code IN ({marks})"
            found.update(conn.execute(query, chunk).fetchall())
        refunds = []
        for code in codes:
            row = json.loads(found[code])
            row.update(status="2", settlement_date=day.isoformat())
            refunds.append(row)
        conn.executemany(
            "UPDATE payment_ledger SET refunded = 1 WHERE payment_code = ?",
            [(r["payment_code"],) for r in refunds],
        )
    return refunds
