"""Secrets at rest: salted, verified in constant time, malformed hashes never match."""

from __future__ import annotations

import pytest

from catalog.credentials import hash_secret, secret_matches


def test_salted_hash_matches_only_its_secret() -> None:
    first, second = hash_secret("s3cret-key"), hash_secret("s3cret-key")
    assert first != second  # a fresh salt each time
    assert secret_matches("s3cret-key", first) and secret_matches("s3cret-key", second)
    assert not secret_matches("s3cret-kex", first)


def test_other_schemes_do_not_match_and_malformed_values_raise() -> None:
    assert not secret_matches("x", "bcrypt$1$2$3$00$00")
    with pytest.raises(ValueError):
        secret_matches("x", "not-a-hash")
