"""Seeded generators for the legal-entity registry and the credit platform (reference `persons`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import numpy as np

from quality.codes import make_uscc
from quality.codes._scalar import USCC_ALPHABET
from schemas import load_contract
from simulators import _vocab as v
from simulators.generate import (
    Table,
    _addresses,
    _choice,
    _dates,
    _finish,
    _pick,
    adult_pool,
    batched_timestamps,
)

__all__ = ["RECORD_PREFIX", "authorities", "generate_credit", "generate_entities"]

RECORD_PREFIX = {"xk": "XK", "cf": "CF", "red": "RED", "black": "BLK"}
# Shares of the entity types (contract code table `entity_type`); a type not listed gets _RARE.
_ENTITY_WEIGHTS = {
    "91": 0.68,
    "92": 0.2,
    "93": 0.05,
    "12": 0.025,
    "11": 0.01,
    "13": 0.005,
    "51": 0.01,
    "52": 0.015,
    "53": 0.005,
    "31": 0.004,
    "33": 0.001,
    "71": 0.003,
    "81": 0.01,
    "N1": 0.003,
    "N2": 0.01,
    "N3": 0.001,
}
_RARE = 0.0003


def _org8s(rng: np.random.Generator, etypes: list[str]) -> list[str]:
    """Organisation codes (first 8 characters): 'MA' + 6 symbols for companies, digits for others."""
    n = len(etypes)
    alpha = np.array(list(USCC_ALPHABET))
    letters = ["".join(r) for r in alpha[rng.integers(0, len(alpha), (n, 6))].tolist()]
    digits = rng.integers(0, 10**7, n).tolist()
    return [f"MA{x}" if et[0] == "9" else f"{et[0]}{d:07d}" for et, x, d in zip(etypes, letters, digits, strict=True)]


def _usccs(rng: np.random.Generator, etypes: list[str], regions: list[str]) -> list[str]:
    """Unique valid USCCs whose authority and type characters match the entity type."""
    org8 = _org8s(rng, etypes)
    usccs = [make_uscc(et[0], et[1], r, o) for et, r, o in zip(etypes, regions, org8, strict=True)]
    seen: set[str] = set()
    for i, code in enumerate(usccs):
        while code in seen:  # re-draw the organisation code of a later duplicate
            code = make_uscc(etypes[i][0], etypes[i][1], regions[i], _org8s(rng, etypes[i : i + 1])[0])
        seen.add(code)
        usccs[i] = code
    return usccs


def _name_scope_capital(
    et: str, label: str, region: str, word: str, ind: str, x: int, cap: float
) -> tuple[str, Any, Any]:
    district = v.YIYANG_REGIONS[region]
    town = v.TOWNS[region][x % len(v.TOWNS[region])]
    if et == "91":
        prefix, form = ("益阳市" if x % 3 else "湖南"), ("有限责任公司" if x % 5 == 0 else "有限公司")
        return f"{prefix}{word}{ind}{form}", v.INDUSTRIES[ind], Decimal(f"{cap:.4f}")
    if et == "92":
        return f"{district}{word}{v.SHOPS[x % len(v.SHOPS)]}", "零售；服务", Decimal(f"{cap / 20:.4f}")
    if et == "93":
        scope = "组织收购、销售成员种植养殖的产品；引进新技术、新品种"
        return (
            f"{district}{town}{word}{v.COOPS[x % len(v.COOPS)]}专业合作社",
            scope,
            Decimal(f"{cap / 2:.4f}"),
        )
    if et[0] == "1":
        pool = v.AGENCIES if et == "11" else v.INSTITUTIONS
        capital = None if et == "11" else Decimal(f"{cap:.4f}")
        return f"{'益阳市' if x % 2 else district}{pool[x % len(pool)]}", None, capital
    if et[0] == "5":
        name = v.SOCIETIES[x % len(v.SOCIETIES)] + ("" if x < 500 else f"{district}分会")
        return name, "开展行业交流、培训、咨询服务", Decimal(f"{cap / 10:.4f}")
    template = v.ORG_NAMES.get(et, "{district}{word}" + label.split("（")[0])
    return template.format(district=district, town=town, word=word), None, None


def generate_entities(
    n: int,
    persons: Table,
    *,
    seed: int,
    bad_share: float,
    epoch: dt.datetime,
    stamp_window: tuple[dt.datetime, dt.datetime] | None = None,
    salt: int = 0,
) -> Table:
    """`n` market entities registered in Yiyang with valid USCCs and representatives from `persons`."""
    contract = load_contract("legal_entity")
    rng = np.random.default_rng([seed, 2, n, salt])
    codes = contract.code_tables["entity_type"].codes
    etypes = _choice(rng, {c: _ENTITY_WEIGHTS.get(c, _RARE) for c in codes}, n).tolist()
    region_keys = np.array(list(v.YIYANG_REGIONS), dtype=object)
    regions = region_keys[rng.choice(len(region_keys), size=n, p=v.YIYANG_WEIGHTS)].tolist()
    words, inds = (
        rng.integers(0, len(v.COMPANY_WORDS), n).tolist(),
        rng.integers(0, len(v.INDUSTRIES), n).tolist(),
    )
    extra, cap = rng.integers(0, 1000, n).tolist(), rng.lognormal(4.0, 1.5, n).tolist()
    industries = list(v.INDUSTRIES)
    details = [
        _name_scope_capital(et, codes[et], r, v.COMPANY_WORDS[w], industries[k], x, c)
        for et, r, w, k, x, c in zip(etypes, regions, words, inds, extra, cap, strict=True)
    ]
    reps = _pick(rng, adult_pool(persons, epoch), n).tolist()
    epoch_day = (epoch.date() - dt.date(1970, 1, 1)).days
    start, end = stamp_window or (epoch - dt.timedelta(days=400), epoch)
    columns: dict[str, list[Any]] = {
        "uscc": _usccs(rng, etypes, regions),
        "name": [d[0] for d in details],
        "entity_type": etypes,
        "legal_rep_name": [persons.columns["name"][k] for k in reps],
        "legal_rep_id": [persons.columns["id_number"][k] for k in reps],
        "address": _addresses(rng, regions),
        "region_code": regions,
        "registration_authority": [
            v.REGISTRARS[et[0]].format(v.YIYANG_REGIONS[r]) for et, r in zip(etypes, regions, strict=True)
        ],
        "established_date": _dates(epoch_day - rng.integers(30, 30 * 365, n)),
        "business_scope": [d[1] for d in details],
        "registered_capital": [d[2] for d in details],
        "status": _choice(rng, {"1": 0.55, "2": 0.33, "3": 0.05, "4": 0.07}, n).tolist(),
        "updated_at": batched_timestamps(rng, n, start, end),
    }
    return _finish(contract, columns, rng, bad_share)


def authorities() -> list[tuple[str, str, str]]:
    """Deciding authorities of credit records: (name, document abbreviation, USCC); USCCs valid."""
    return [
        (name, abbr, make_uscc("1", "1", region, f"0{6012300 + i:07d}"))
        for i, (name, abbr, region) in enumerate(v.AUTHORITIES)
    ]


def _plus_years(d: dt.date, years: int) -> str:
    return d.replace(year=d.year + years, day=min(d.day, 28)).isoformat()


def generate_credit(
    n: int,
    persons: Table,
    entities: Table,
    *,
    seed: int,
    bad_share: float,
    epoch: dt.datetime,
    stamp_window: tuple[dt.datetime, dt.datetime] | None = None,
    first_number: int = 1,
) -> Table:
    """`n` credit records (permits, penalties, red and black lists) about existing entities and persons.

    Record ids are `<XK|CF|RED|BLK><year><8-digit number>`, numbered from `first_number`.
    """
    contract = load_contract("credit_record")
    rng = np.random.default_rng([seed, 3, n, first_number])
    rtype = _choice(rng, {"xk": 0.45, "cf": 0.35, "red": 0.1, "black": 0.1}, n).tolist()
    legal = (rng.random(n) < 0.8).tolist()
    ent_pool = np.flatnonzero(entities.good & np.isin(np.array(entities.columns["status"], dtype=object), ["1", "2"]))
    ents, people = _pick(rng, ent_pool, n).tolist(), _pick(rng, adult_pool(persons, epoch), n).tolist()
    start, end = stamp_window or (epoch - dt.timedelta(days=400), epoch)
    stamps = batched_timestamps(rng, n, start, end)
    lag = rng.integers(0, 30, n).tolist()
    auths = authorities()
    auth, pick = rng.integers(0, len(auths), n).tolist(), rng.integers(0, 1 << 30, n).tolist()
    amounts = rng.lognormal(-0.5, 1.3, n).clip(0.01, 500).tolist()
    cols: dict[str, list[Any]] = {f: [] for f in contract.field_names}
    for i in range(n):
        t, d, (a_name, abbr, a_uscc) = rtype[i], stamps[i].date() - dt.timedelta(days=lag[i]), auths[auth[i]]
        src, k = (entities, ents[i]) if legal[i] else (persons, people[i])
        x = pick[i]
        if t == "xk":
            content = f"准予{v.PERMITS[x % len(v.PERMITS)]}"
        elif t == "cf":
            fine = f"{amounts[i] * 10000:.0f}"
            content = f"当事人{v.PENALTIES[x % len(v.PENALTIES)]}，决定给予警告并处罚款{fine}元"
        elif t == "red":
            content = f"列入守信红名单：{v.RED_REASONS[x % len(v.RED_REASONS)]}"
        else:
            content = f"列入失信黑名单：{v.BLACK_REASONS[x % len(v.BLACK_REASONS)]}"
        word = {"xk": "许", "cf": "罚"}.get(t, "信")
        years = {"xk": 5, "cf": 1, "red": 3, "black": 3}[t]
        row = {
            "record_id": f"{RECORD_PREFIX[t]}{d.year}{first_number + i:08d}",
            "record_type": t,
            "subject_type": "legal" if legal[i] else "natural",
            "subject_name": src.columns["name"][k],
            "subject_code": src.columns["uscc" if legal[i] else "id_number"][k],
            "document_number": f"{abbr}{word}〔{d.year}〕{x % 900 + 1}号",
            "content": content,
            "amount": f"{amounts[i]:.4f}" if t == "cf" else None,
            "decision_date": d.isoformat(),
            "valid_from": d.isoformat(),
            "valid_to": None if t == "xk" and x % 10 == 0 else _plus_years(d, years),
            "publish_deadline": _plus_years(d, 1 if t == "cf" else 3),
            "authority_name": a_name,
            "authority_uscc": a_uscc,
            "source_unit": a_name,
            "updated_at": stamps[i],
        }
        for name, value in row.items():
            cols[name].append(value)
    return _finish(contract, cols, rng, bad_share)
