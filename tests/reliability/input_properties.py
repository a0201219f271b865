"""Hypothesis strategies for records that break at least one rule of their contract.

`bad_records(resource, good_rows)` draws a good source row and damages one to three of its fields, each
with a value built to fail an error-severity check of that field (or its type or required-ness), all
derived from `schemas.load_contract`. It yields (record, damaged field names).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from hypothesis import strategies as st

from quality.codes import check_id_number, check_region_code, check_uscc
from schemas import Contract, Field, load_contract
from tests.reliability.corpus import FAR_FUTURE, marker_field

__all__ = ["bad_records", "field_breakers"]

_BLANK = " \t\r\n\x0b\x0c"  # what the quality stage reads as a missing value


def _text(resource: str, *, min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[str]:
    """Non-blank text a source can carry: any character for databases and JSON, GBK without line
    breaks for settlement files."""
    if load_contract(resource).source.kind == "filedrop":
        chars = st.characters(codec="gbk", exclude_characters="\r\n").filter(_gbk)
    else:
        chars = st.characters(exclude_categories=("Cs",))
    return st.text(chars, min_size=min_size, max_size=max_size).filter(lambda v: bool(v.strip(_BLANK)))


def _gbk(char: str) -> bool:
    try:
        char.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def _letters(resource: str) -> st.SearchStrategy[str]:
    """Letters only: never a number or a date, whatever the script."""
    chars = st.characters(categories=("Lu", "Ll", "Lo"))
    if load_contract(resource).source.kind == "filedrop":
        chars = chars.filter(_gbk)
    return st.text(chars, min_size=1, max_size=8)


def field_breakers(contract: Contract, f: Field) -> list[st.SearchStrategy[Any]]:
    """Strategies for values of `f` that its contract rejects (an empty list: none worth drawing)."""
    out: list[st.SearchStrategy[Any]] = []
    if f.required:
        out.append(st.sampled_from([None, "", "   ", "\t"]))
    if f.type == "date":
        out.append(_letters(contract.resource))
    if f.type == "decimal":
        out.append(_letters(contract.resource))
    for check in f.checks:
        if check.severity != "error":
            continue
        p = check.params
        text = _text(contract.resource, max_size=20)
        if check.rule == "gb11643":
            out.append(text.filter(lambda v: check_id_number(v) is not None))
        elif check.rule == "gb32100":
            out.append(text.filter(lambda v: check_uscc(v) is not None))
        elif check.rule == "gb2260":
            out.append(st.text("0123456789", min_size=6, max_size=6).filter(lambda v: not check_region_code(v)))
        elif check.rule == "enum":
            codes = set(contract.code_tables[p["table"]].codes)
            out.append(_text(contract.resource, max_size=6).filter(lambda v, c=codes: v not in c))
        elif check.rule == "pattern":
            regex = re.compile(p["regex"])
            out.append(text.filter(lambda v, r=regex: not r.fullmatch(v)))
        elif check.rule == "length" and "max" in p:
            top = int(p["max"])
            unit = _text(contract.resource, max_size=4)
            out.append(st.tuples(unit, st.integers(1, 30)).map(lambda t, m=top: (t[0] * (m + 31))[: m + t[1]]))
        elif check.rule == "length" and int(p.get("min", 0)) > 1:
            out.append(_text(contract.resource, max_size=int(p["min"]) - 1))
        elif check.rule == "range" and f.type == "date" and "min" in p:
            low = dt.date.fromisoformat(str(p["min"])) - dt.timedelta(days=1)
            out.append(st.dates(dt.date(1800, 1, 1), low).map(dt.date.isoformat))
        elif check.rule == "range" and f.type == "decimal" and "max" in p:
            top = float(p["max"])
            out.append(st.integers(int(top) + 1, int(top) * 100).map(lambda v, s=f.scale or 0: f"{v:.{s}f}"))
        elif check.rule == "not_future":
            if f.type == "timestamp":
                out.append(
                    st.datetimes(dt.datetime.combine(FAR_FUTURE, dt.time()), dt.datetime(2199, 1, 1)).map(
                        lambda v: f"{v:%Y-%m-%d %H:%M:%S}"
                    )
                )
            else:
                out.append(st.dates(FAR_FUTURE, dt.date(2199, 1, 1)).map(dt.date.isoformat))
    return out


def bad_records(resource: str, good_rows: list[dict[str, Any]]) -> st.SearchStrategy[tuple[dict[str, Any], tuple]]:
    """A good row of `resource` with one to three fields damaged; yields (record, damaged field names).

    Keys, the cursor and the marker field (where a test puts its token) are left alone: the test gives
    each record a fresh key so rows stay distinct at the source."""
    contract = load_contract(resource)
    skip = {*contract.primary_key, contract.source.cursor, marker_field(contract).name}
    choices = [(f.name, b) for f in contract.fields if f.name not in skip for b in field_breakers(contract, f)]

    @st.composite
    def build(draw: st.DrawFn) -> tuple[dict[str, Any], tuple]:
        record = dict(draw(st.sampled_from(good_rows)))
        picks = draw(st.lists(st.sampled_from(range(len(choices))), min_size=1, max_size=3, unique=True))
        damaged: list[str] = []
        for k in picks:
            name, strategy = choices[k]
            if name not in damaged:
                record[name] = draw(strategy)
                damaged.append(name)
        return record, tuple(damaged)

    return build()
