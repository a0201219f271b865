"""Admin password hashes: Argon2id; older scrypt and weaker Argon2 hashes still sign in and are rehashed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from catalog.credentials import hash_secret
from web.monitor.auth import admin_store_path, check_admin, create_admin

PASSWORD = "correct horse battery"


def _store(keys_dir: Path, stored_hash: str) -> None:
    keys_dir.mkdir(parents=True, exist_ok=True)
    entry = {"hash": stored_hash, "roles": [], "created_at": "2025-01-01T00:00:00+00:00"}
    admin_store_path(keys_dir).write_text(json.dumps({"wang": entry}), encoding="utf-8")


def _stored(keys_dir: Path) -> str:
    return str(json.loads(admin_store_path(keys_dir).read_text(encoding="utf-8"))["wang"]["hash"])


def test_new_passwords_are_stored_as_argon2id(tmp_path: Path) -> None:
    create_admin(tmp_path, "wang", PASSWORD)
    assert _stored(tmp_path).startswith("$argon2id$")
    assert check_admin(tmp_path, "wang", PASSWORD) is not None
    assert check_admin(tmp_path, "wang", PASSWORD + "!") is None


@pytest.mark.parametrize(
    "legacy",
    [
        pytest.param(lambda: hash_secret(PASSWORD), id="scrypt"),
        pytest.param(lambda: PasswordHasher(time_cost=1, memory_cost=8192).hash(PASSWORD), id="weak-argon2id"),
    ],
)
def test_an_older_hash_signs_in_and_is_rehashed_at_once(tmp_path: Path, legacy) -> None:  # type: ignore[no-untyped-def]
    old = legacy()
    _store(tmp_path, old)
    assert check_admin(tmp_path, "wang", PASSWORD + "!") is None
    assert _stored(tmp_path) == old  # a wrong password changes nothing
    first = check_admin(tmp_path, "wang", PASSWORD)
    new = _stored(tmp_path)
    assert first is not None and new != old and new.startswith("$argon2id$")
    assert not PasswordHasher().check_needs_rehash(new)
    assert check_admin(tmp_path, "wang", PASSWORD) == first  # the rehashed entry stays as it is
    assert _stored(tmp_path) == new


def test_a_malformed_stored_hash_refuses_without_crashing(tmp_path: Path) -> None:
    _store(tmp_path, "scrypt$garbage")
    assert check_admin(tmp_path, "wang", PASSWORD) is None
