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
    paid = [start + dt.timedelta(seconds=s) for s in np.sort(rng.integers(0, 86_400, n)).tolist()]
    late = (rng.random(n) < 0.05).tolist()
    receipt = (rng.random(n) < 0.9).tolist()
    channels = _choice(rng, v.CHANNEL_WEIGHTS, n).tolist()
    cols: dict[str, list[Any]] = {f: [] for f in contract.field_names}
    for i in range(n):
        code, name, items = v.COLLECTORS[coll[i]]
        item_code, item_name, typical = items[item_pick[i] % len(items)]
        amount = typical if "工本费" in item_name else max(1.0, round(typical * scale[i], 0))
        row = {
            "payment_code": f"4309{day:%Y%m%d}{i + 1:08d}",
            "collector_code": code,
            "collector_name": name,
            "item_code": item_code,
            "item_name": item_name,
            "fiscal_region": code[:6],
            "payer_name": payers[who[i]][0],
            "payer_id": payers[who[i]][1],
            "amount": f"{amount:.2f}",
            "late_fee": f"{amount * 0.03:.2f}" if late[i] else "",
            "paid_at": f"{paid[i]:%Y-%m-%d %H:%M:%S}",
            "channel": channels[i],
            "receipt_code": f"4309{day:%y}01" if receipt[i] else "",
            "receipt_number": f"{day.toordinal() % 10_000:04d}{i + 1:06d}" if receipt[i] else "",
            "status": "1",
            "settlement_date": day.isoformat(),
        }
        for k, value in row.items():
            cols[k].append(value)
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
    rows = 0
    for i, row in enumerate(zip(*(table.columns[n] for n in names), strict=True)):
        values = list(row)
        if i in broken:
            values = values[:-1]
            bad.append(BadRecord("payment", "broken_row", values[0], None, len(values), file=name))
        writer.writerow(values)
        rows += 1
        if i in dup:
            writer.writerow(values)
            rows += 1
            bad.append(BadRecord("payment", "duplicate_key", values[0], names[0], values[0], file=name))
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
    with sqlite3.connect(ledger) as conn:
        conn.execute(_LEDGER_DDL)
        conn.executemany(
            "INSERT OR IGNORE INTO payment_ledger (payment_code, settlement_date, row_json) VALUES (?, ?, ?)",
            [
                (row[0], row[names.index("settlement_date")], json.dumps(dict(zip(names, row, strict=True))))
                for ok, row in zip(table.good.tolist(), zip(*table.columns.values(), strict=True), strict=True)
                if ok
            ],
        )


def ledger_refunds(ledger: Path, *, day: dt.date, share: float, seed: int) -> list[dict[str, Any]]:
    """Refund `share` of the not-yet-refunded payments settled before `day`: same code, status 2."""
    with sqlite3.connect(ledger) as conn:
        conn.execute(_LEDGER_DDL)
        rows = conn.execute(
            "SELECT payment_code, row_json FROM payment_ledger WHERE refunded = 0 AND settlement_date < ? "
            "ORDER BY payment_code",
            (day.isoformat(),),
        ).fetchall()
        k = min(len(rows), round(len(rows) * share))
        picked = sorted(np.random.default_rng([seed, 5, day.toordinal()]).choice(len(rows), k, replace=False))
        refunds = []
        for i in picked:
            row = json.loads(rows[i][1])
            row.update(status="2", settlement_date=day.isoformat())
            refunds.append(row)
        conn.executemany(
            "UPDATE payment_ledger SET refunded = 1 WHERE payment_code = ?",
            [(r["payment_code"],) for r in refunds],
        )
    return refunds
