"""A day's newborns fit the ID numbers one birth date allows, however large the registry."""

from __future__ import annotations

import datetime as dt

import pytest

from simulators.generate import generate_persons
from simulators.tick import MAX_BIRTHS_PER_DAY, _births_fit_one_day, _counts


def test_a_large_registry_moves_extra_inserts_to_updates() -> None:
    counts = _counts(4_000_000, 0.01)
    fitted = _births_fit_one_day(counts)
    assert fitted[0] == MAX_BIRTHS_PER_DAY
    assert sum(fitted) == sum(counts)
    assert _births_fit_one_day(_counts(100_000, 0.01)) == _counts(100_000, 0.01)


def test_the_most_newborns_a_day_get_unique_valid_ids() -> None:
    epoch = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    born = generate_persons(MAX_BIRTHS_PER_DAY, seed=3, bad_share=0.0, epoch=epoch, born_on=dt.date(2026, 3, 2))
    ids = born.columns["id_number"]
    assert len(set(ids)) == len(ids) == MAX_BIRTHS_PER_DAY
    assert all(i[6:14] == "20260302" for i in ids)


def test_more_newborns_than_a_birth_date_allows_is_refused_not_a_hang() -> None:
    epoch = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="GB 11643 allows 1,000"):
        generate_persons(20_000, seed=3, bad_share=0.0, epoch=epoch, born_on=dt.date(2026, 3, 2))
