"""Vectorised, seeded generators for the registries and the credit platform.

Each generator returns a `Table`: contract columns (plus the deleted flag) as Python lists ready
for a bulk insert, the injected `BadRecord`s, and a mask of the rows safe to reference.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quality.codes import id_check_char
from quality.codes._scalar import ID_WEIGHTS
from schemas import Contract, load_contract
from simulators import _vocab as v
from simulators import bad as _bad
from simulators.bad import BAD_KINDS, BadKind, BadRecord

__all__ = ["Table", "adult_pool", "batched_timestamps", "generate_persons", "id_check_chars", "inject"]

_DAY_US = 86_400_000_000
# One 17-digit prefix per remainder r (sum mod 11 == r): maps a remainder to its check character
# through the reference implementation instead of re-typing the table.
_REF_PREFIXES = {
    sum(int(c) * w for c, w in zip(p, ID_WEIGHTS, strict=True)) % 11: p for p in (f"{k:017d}" for k in range(1, 200))
}
RECORD_PREFIX = {"xk": "XK", "cf": "CF", "red": "RED", "black": "BLK"}


@dataclass
class Table:
    """Generated rows of one resource, column-wise, with the damage done to them."""

    resource: str
    columns: dict[str, list[Any]]
    bad: list[BadRecord] = field(default_factory=list)
    good: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=bool))

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def rows(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """Rows `start:stop` as dicts (what SQLAlchemy's executemany takes)."""
        names = list(self.columns)
        cols = [self.columns[n][start:stop] for n in names]
        return [dict(zip(names, values, strict=True)) for values in zip(*cols, strict=True)]


def batched_timestamps(
    rng: np.random.Generator, n: int, start: dt.datetime, end: dt.datetime, *, mean_batch: int = 20
) -> list[dt.datetime]:
    """`n` naive-UTC timestamps in [start, end), written in batches that share one value.

    Legacy registries stamp a whole batch job with one time, so many rows share an `updated_at`:
    the connector's boundary handling (`>=` plus de-duplication) is tested on exactly that.
    """
    batches = max(1, n // mean_batch)
    span = max(1, int((end - start) / dt.timedelta(microseconds=1)))
    offsets = np.sort(rng.integers(0, span, batches))
    stamps = np.datetime64(start.replace(tzinfo=None), "us") + offsets[rng.integers(0, batches, n)].astype(
        "timedelta64[us]"
    )
    return stamps.astype(object).tolist()


def id_check_chars(prefixes: np.ndarray) -> list[str]:
    """GB 11643 check characters of many 17-digit prefixes at once (numpy; 1 M in ~0.2 s).

    `quality.codes.id_check_char` is the reference: a sample is cross-checked on every call, so
    this fast path can never drift from it.
    """
    if len(prefixes) == 0:
        return []
    digits = np.frombuffer(prefixes.astype("S17").tobytes(), dtype=np.uint8).reshape(-1, 17) - 48
    sums = digits.astype(np.int64) @ np.array(ID_WEIGHTS, dtype=np.int64)
    chars = np.array([id_check_char(_REF_PREFIXES[r]) for r in range(11)])[sums % 11].tolist()
    for i in range(0, len(prefixes), max(1, len(prefixes) // 50)):
        if chars[i] != id_check_char(prefixes[i]):
            raise AssertionError(f"vectorised GB 11643 check of {prefixes[i]} disagrees with quality.codes")
    return chars


def _choice(rng: np.random.Generator, weights: dict[str, float], n: int) -> np.ndarray:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def _dates(days: np.ndarray) -> list[str]:
    """Days since 1970-01-01 -> 'YYYY-MM-DD' strings (through a lookup table: 10x faster)."""
    if len(days) == 0:
        return []
    lo = int(days.min())
    table = np.datetime_as_string(np.arange(lo, int(days.max()) + 1).astype("datetime64[D]"), unit="D")
    return table[days - lo].tolist()


def _addresses(rng: np.random.Generator, regions: list[str]) -> list[str]:
    n = len(regions)
    street, num = rng.integers(0, len(v.STREETS), n).tolist(), rng.integers(1, 400, n).tolist()
    bld, unit, room = (rng.integers(lo, hi, n).tolist() for lo, hi in ((1, 30), (1, 6), (101, 1802)))
    flat = (rng.random(n) < 0.6).tolist()
    town, vil, grp = (rng.integers(0, hi, n).tolist() for hi in (6, len(v.VILLAGE_WORDS), 15))
    out = []
    for i, r in enumerate(regions):
        district = v.YIYANG_REGIONS[r]
        if r in v.URBAN and town[i] < 4:
            tail = f"{bld[i]}栋{unit[i]}单元{room[i]}室" if flat[i] else ""
            out.append(f"益阳市{district}{v.STREETS[street[i]]}{num[i]}号{tail}")
        else:
            towns = v.TOWNS[r]
            place = f"{towns[town[i] % len(towns)]}{v.VILLAGE_WORDS[vil[i]]}村"
            out.append(f"益阳市{district}{place}{grp[i]}组{num[i]}号")
    return out


def _full_names(rng: np.random.Generator, surname: np.ndarray, male: np.ndarray) -> list[str]:
    """Surname + one- or two-character given name from the gender's pool (table lookup, vectorised)."""
    out = np.empty(len(male), dtype=object)
    for m, pool in enumerate((v.FEMALE_CHARS, v.MALE_CHARS)):
        given = list(pool) + [a + b for a in pool for b in pool]
        table = np.array([sn + g for sn in v.SURNAMES for g in given], dtype=object)
        rows = np.flatnonzero(male == bool(m))
        two = rng.random(len(rows)) < 0.7
        pick = np.where(two, rng.integers(len(pool), len(given), len(rows)), rng.integers(0, len(pool), len(rows)))
        out[rows] = table[surname[rows] * len(given) + pick]
    return out.tolist()


def generate_persons(
    n: int,
    *,
    seed: int,
    bad_share: float,
    epoch: dt.datetime,
    born_on: dt.date | None = None,
    stamp_window: tuple[dt.datetime, dt.datetime] | None = None,
) -> Table:
    """`n` registered residents of Yiyang in households, IDs valid and consistent with birth and gender.

    `born_on` makes them newborns of that day (the tick's births); `stamp_window` sets the range of
    their `updated_at` (default: the 400 days before `epoch`).
    """
    contract = load_contract("person")
    rng = np.random.default_rng([seed, 1, n, 0 if born_on is None else born_on.toordinal()])
    sizes = rng.choice([1, 2, 3, 4, 5], p=[0.2, 0.3, 0.28, 0.15, 0.07], size=max(n, 1))
    hh = np.repeat(np.arange(len(sizes)), sizes)[:n]
    n_hh = int(hh[-1]) + 1 if n else 0
    region_keys = np.array(list(v.YIYANG_REGIONS), dtype=object)
    hh_region = region_keys[rng.choice(len(region_keys), size=n_hh, p=v.YIYANG_WEIGHTS)].tolist()
    hh_surname = rng.choice(len(v.SURNAMES), size=n_hh, p=np.array(v.SURNAME_WEIGHTS) / sum(v.SURNAME_WEIGHTS))
    hh_address = _addresses(rng, hh_region)
    salt = rng.integers(0, 10_000_000)
    hh_number = [f"{r[-2:]}{(h * 7919 + salt) % 10_000_000:07d}" for h, r in enumerate(hh_region)]
    hh_list = hh.tolist()
    region = [hh_region[h] for h in hh_list]
    epoch_day = (epoch.date() - dt.date(1970, 1, 1)).days
    if born_on is None:
        births = epoch_day - 1 - (rng.beta(2.0, 2.4, n) * 95 * 365.25).astype(np.int64)
    else:
        births = np.full(n, (born_on - dt.date(1970, 1, 1)).days, dtype=np.int64)
    as_date = births.astype("datetime64[D]")
    years, months = as_date.astype("datetime64[Y]"), as_date.astype("datetime64[M]")
    ymd = (years.astype(np.int64) + 1970) * 10000 + (months - years).astype(np.int64) * 100 + 100
    ymd += (as_date - months).astype(np.int64) + 1
    other = np.array(list(v.OTHER_HUNAN), dtype=object)
    id_region = np.where(rng.random(n) < 0.95, np.array(region, dtype=object), other[rng.integers(0, len(other), n)])
    region_int = id_region.astype(np.int64)
    seq = rng.integers(0, 1000, n)
    _, per_prefix = np.unique(region_int * 10**8 + ymd, return_counts=True)
    if n and per_prefix.max() > 1000:  # GB 11643 has 1,000 sequence numbers per county and birth date
        raise ValueError(
            f"{n} persons put {per_prefix.max()} on one county and birth date; GB 11643 allows 1,000 "
            "(fewer newborns per day, or spread them over more dates)"
        )
    while True:  # make the 17-digit prefixes unique: re-draw the sequence of later duplicates
        key = region_int * 10**11 + ymd * 1000 + seq
        _, first = np.unique(key, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if not dup.any():
            break
        seq[dup] = rng.integers(0, 1000, int(dup.sum()))
    prefixes = key.astype("U17")
    ids = np.strings.add(prefixes, np.array(id_check_chars(prefixes), dtype="U1")).tolist()
    male = seq % 2 == 1
    surname = np.where(rng.random(n) < 0.85, hh_surname[hh], rng.integers(0, len(v.SURNAMES), n))
    place_known = rng.random(n) < 0.9
    places = {r: f"湖南省益阳市{name}" for r, name in v.YIYANG_REGIONS.items()}
    places.update({r: f"湖南省{name}" for r, name in v.OTHER_HUNAN.items()})
    phone = rng.integers(13 * 10**9, 20 * 10**9, n).astype("U11")
    start, end = stamp_window or (epoch - dt.timedelta(days=400), epoch)
    columns: dict[str, list[Any]] = {
        "id_number": ids,
        "name": _full_names(rng, surname, male),
        "gender": np.where(male, "1", "2").tolist(),
        "ethnicity": _choice(rng, v.ETHNICITY_WEIGHTS, n).tolist(),
        "birth_date": _dates(births),
        "birth_place": np.where(place_known, np.vectorize(places.get, otypes=[object])(id_region), None).tolist(),
        "household_address": [hh_address[h] for h in hh_list],
        "region_code": region,
        "household_number": [hh_number[h] for h in hh_list],
        "phone": np.where(rng.random(n) < 0.75, phone, None).tolist(),
        "status": (
            _choice(rng, {"1": 0.975, "2": 0.015, "3": 0.01}, n) if born_on is None else np.full(n, "1")
        ).tolist(),
        "updated_at": batched_timestamps(rng, n, start, end),
    }
    return _finish(contract, columns, rng, bad_share)


def _finish(contract: Contract, columns: dict[str, list[Any]], rng: np.random.Generator, bad_share: float) -> Table:
    """Add the deleted flag, check columns against the contract, inject bad records."""
    n = len(columns[contract.primary_key[0]])
    if list(columns) != contract.field_names:
        raise AssertionError(f"{contract.resource}: generator columns {list(columns)} != contract fields")
    if contract.source.deleted_flag:
        columns[contract.source.deleted_flag] = [0] * n
    table = Table(contract.resource, columns, good=np.ones(n, dtype=bool))
    inject(table, contract, rng, bad_share, BAD_KINDS)
    return table


def inject(
    table: Table, contract: Contract, rng: np.random.Generator, share: float, kinds: tuple[BadKind, ...]
) -> dict[BadKind, np.ndarray]:
    """Damage `share` of the rows in place, one kind per row, recording each as a `BadRecord`.

    Returns the plan (rows per kind); file-only kinds (duplicates, broken rows) are left to the writer.
    """
    cols, key = table.columns, contract.primary_key[0]
    check_f, date_f = _bad.check_char_field(contract), _bad.date_field(contract)
    missing_f, code_fs = _bad.missing_field(contract), _bad.code_fields(contract)
    planned = _bad.plan(rng, len(table), share, kinds)
    for kind, rows in planned.items():
        for j, i in enumerate(rows.tolist()):
            if kind == "check_char":
                target, value = (
                    check_f.name,
                    _bad.wrong_check_char(cols[check_f.name][i], _bad.check_rule(check_f)),
                )
            elif kind == "impossible_date":
                target, value = date_f.name, _bad.impossible_date(cols[date_f.name][i], j)
            elif kind == "missing_required":
                target, value = missing_f.name, None
            elif kind == "unknown_code":
                target = code_fs[j % len(code_fs)].name
                value = _bad.unknown_code(contract, code_fs[j % len(code_fs)])
            else:
                continue  # file-only kinds are applied by the file writer
            table.good[i] = False
            cols[target][i] = value
            table.bad.append(BadRecord(contract.resource, kind, cols[key][i], target, value))
    return planned


def _pick(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    if len(pool) == 0:
        raise ValueError("cannot pick references from an empty pool: generate more persons")
    return pool[rng.integers(0, len(pool), n)]


def adult_pool(persons: Table, epoch: dt.datetime) -> np.ndarray:
    """Indices of living, valid, adult persons (safe as legal representatives, payers, subjects)."""
    cutoff = (epoch.date() - dt.timedelta(days=18 * 366)).isoformat()
    status = np.array(persons.columns["status"], dtype=object)
    birth = np.array(persons.columns["birth_date"], dtype=object)
    return np.flatnonzero(persons.good & (status == "1") & (birth <= cutoff))
