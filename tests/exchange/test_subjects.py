"""Keyed subject hashes: not guessable without the key, found again under every key after a rotation."""

from __future__ import annotations

import stat
from pathlib import Path

from exchange.crypto import canonical_json, sm3_hex
from exchange.subjects import SubjectKeys, subject_hash, subject_hashes

ID = "430902199001011234"


def test_the_hash_is_keyed_and_names_its_key(tmp_path: Path) -> None:
    keys = SubjectKeys.load(tmp_path)
    hashed = subject_hash(ID, keys=keys)
    prefix, key_id, digest = hashed.split(":")
    assert (prefix, key_id, len(digest)) == ("hs1", keys.key_id, 64)
    assert digest not in {
        sm3_hex(ID.encode()),
        sm3_hex(canonical_json([ID])),
        sm3_hex(canonical_json({"id_number": ID})),
    }
    assert stat.S_IMODE((tmp_path / "subject-hash.key").stat().st_mode) == 0o600
    other = SubjectKeys.load(tmp_path / "elsewhere")  # another hub (or a guesser without the key)
    assert subject_hash(ID, keys=other) != hashed
    assert SubjectKeys.load(tmp_path, secret="from-settings").key_id != keys.key_id


def test_rotation_keeps_old_events_findable(tmp_path: Path) -> None:
    before = SubjectKeys.load(tmp_path)
    old = subject_hash(ID, keys=before)
    new_id = SubjectKeys.rotate(tmp_path)
    after = SubjectKeys.load(tmp_path)
    assert after.key_id == new_id != before.key_id
    new = subject_hash(ID, keys=after)
    assert new != old and {old, new} == set(subject_hashes(ID, keys=after))
    assert subject_hashes(ID.lower(), keys=after) == subject_hashes(ID, keys=after)
