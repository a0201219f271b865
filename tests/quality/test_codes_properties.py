"""Property tests: single-character errors are always caught; vectorised == scalar on random data."""

from __future__ import annotations

import datetime as dt
import random

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from quality.codes import (
    REGIONS,
    check_id_number,
    check_id_numbers,
    check_uscc,
    check_usccs,
    id_birth_dates,
    id_genders,
    make_id_number,
    make_uscc,
)
from quality.codes._scalar import USCC_ALPHABET

TODAY = dt.date(2024, 6, 1)
COUNTIES = sorted(c for c, i in REGIONS.items() if i.level == "county" and i.status != "statistical")
ORG_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # letters usable inside a USCC
PAIRS = [("1", "1"), ("1", "2"), ("5", "1"), ("9", "1"), ("9", "2"), ("9", "3"), ("N", "2"), ("Y", "1")]

ids = st.builds(
    make_id_number,
    st.sampled_from(COUNTIES),
    st.dates(min_value=dt.date(1880, 1, 1), max_value=TODAY),
    st.integers(0, 999),
)
usccs = st.builds(
    lambda pair, region, org: make_uscc(pair[0], pair[1], region, org),
    st.sampled_from(PAIRS),
    st.sampled_from([*COUNTIES, "100000", "430000", "430900"]),
    st.text(ORG_CHARS, min_size=8, max_size=8),
)


def _perturbations(code: str, alphabet: str) -> list[str]:
    return [code[:i] + c + code[i + 1 :] for i in range(len(code)) for c in alphabet if c != code[i]]


@settings(max_examples=40, deadline=None, database=None)
@given(ids)
def test_every_single_character_change_of_an_id_is_caught(value: str) -> None:
    assert check_id_numbers(pa.array([value]), today=TODAY).to_pylist() == [None]
    variants = _perturbations(value, "0123456789X")
    reasons = check_id_numbers(pa.array(variants), today=TODAY).to_pylist()
    assert None not in reasons


@settings(max_examples=40, deadline=None, database=None)
@given(usccs)
def test_every_single_character_change_of_a_uscc_is_caught(value: str) -> None:
    assert check_usccs(pa.array([value])).to_pylist() == [None]
    variants = _perturbations(value, USCC_ALPHABET + "IOSVZ")
    reasons = check_usccs(pa.array(variants)).to_pylist()
    assert None not in reasons


def _mutate(rng: random.Random, value: str, alphabet: str) -> str:
    """Random damage: substitute, delete, insert, swap, lowercase, or leave intact."""
    kind = rng.randrange(7)
    i = rng.randrange(len(value))
    if kind == 0:
        return value[:i] + rng.choice(alphabet) + value[i + 1 :]
    if kind == 1:
        return value[:i] + value[i + 1 :]
    if kind == 2:
        return value[:i] + rng.choice(alphabet) + value[i:]
    if kind == 3 and i < len(value) - 1:
        return value[:i] + value[i + 1] + value[i] + value[i + 2 :]
    if kind == 4:
        return value.lower()
    return value


@settings(max_examples=15, deadline=None, database=None)
@given(st.integers(0, 2**32))
def test_vectorised_ids_agree_with_scalar(seed: int) -> None:
    rng = random.Random(seed)
    regions = [*COUNTIES, "430971", "110105", "440524", "432321", "430999", "100000", "990101"]
    values = []
    for _ in range(300):
        birth = dt.date(1870, 1, 1) + dt.timedelta(days=rng.randrange(60000))
        value = make_id_number(rng.choice(regions), birth, rng.randrange(1000))
        values.append(_mutate(rng, value, "0123456789Xx ") if rng.random() < 0.5 else value)
    for today in (TODAY, dt.date(2040, 1, 1)):
        for statistical in (True, False):
            vector = check_id_numbers(pa.array(values), today=today, include_statistical=statistical)
            scalar = [check_id_number(v, today=today, include_statistical=statistical) for v in values]
            assert vector.to_pylist() == scalar
    dates = id_birth_dates(pa.array(values)).to_pylist()
    genders = id_genders(pa.array(values)).to_pylist()
    for value, date, gender in zip(values, dates, genders, strict=True):
        well_formed = len(value) == 18 and value[:17].isdecimal() and value[:17].isascii()
        well_formed = well_formed and value[17] in "0123456789X"
        assert gender == (("1" if int(value[16]) % 2 else "2") if well_formed else None)
        assert date == (_real_date(value) if well_formed else None)


def _real_date(value: str) -> dt.date | None:
    try:
        return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return None


@settings(max_examples=15, deadline=None, database=None)
@given(st.integers(0, 2**32))
def test_vectorised_usccs_agree_with_scalar(seed: int) -> None:
    rng = random.Random(seed)
    regions = [*COUNTIES, "100000", "430000", "440305", "430999", "990000", "430971"]
    pairs = [*PAIRS, ("9", "4"), ("2", "1"), ("Y", "2")]
    values = []
    for _ in range(300):
        authority, entity_type = rng.choice(pairs)
        org = "".join(rng.choice(ORG_CHARS) for _ in range(8))
        value = make_uscc(authority, entity_type, rng.choice(regions), org)
        values.append(_mutate(rng, value, USCC_ALPHABET + "IOZ ") if rng.random() < 0.5 else value)
    for unverified in ("accept", "reject"):
        vector = check_usccs(pa.array(values), unverified=unverified)
        assert vector.to_pylist() == [check_uscc(v, unverified=unverified) for v in values]
