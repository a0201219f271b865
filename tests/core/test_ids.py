"""Ids the hub mints: random, of the promised shape, refused when asked for an impossible length."""

from __future__ import annotations

import re
import uuid

import pytest

from core.ids import new_id, short_suffix


def test_new_id_is_a_random_uuid4() -> None:
    first, second = new_id(), new_id()
    assert first != second and uuid.UUID(first).version == 4


@pytest.mark.parametrize("length", [1, 8, 32])
def test_short_suffix_is_lowercase_hex_of_the_length(length: int) -> None:
    assert re.fullmatch(rf"[0-9a-f]{{{length}}}", short_suffix(length))


@pytest.mark.parametrize("length", [0, 33])
def test_short_suffix_refuses_impossible_lengths(length: int) -> None:
    with pytest.raises(ValueError, match="1 to 32"):
        short_suffix(length)
