"""Departments: seeding, generated codes, API keys hashed and checked."""

from __future__ import annotations

import pytest
from conftest import POLICE, USER
from sqlalchemy.orm import Session

from catalog import Department, authenticate, issue_api_key, seed_departments
from catalog.errors import CatalogError
from quality.codes import check_uscc
from schemas import load_systems


def test_seed_has_the_four_providers_from_systems_yaml_and_six_users(session: Session) -> None:
    departments = {d.name: d for d in session.query(Department)}
    providers = {s["provider"]["name"]: s["provider"]["code"] for s in load_systems().values()}
    assert set(providers) == {"市公安局", "市市场监管局", "市发改委", "市财政局"}
    for name, code in providers.items():
        assert departments[name].code == code
        assert departments[name].kind == "both"
    users = {"市人社局", "市住建局", "市不动产登记中心", "市税务局", "市医保局", "市民政局"}
    assert {name for name, d in departments.items() if d.kind == "user"} == users
    assert len(departments) == 10


def test_generated_department_codes_pass_the_gb32100_check(session: Session) -> None:
    for department in session.query(Department).filter(Department.kind == "user"):
        assert check_uscc(department.code) is None, department


def test_seeding_twice_changes_nothing_and_keeps_keys(session: Session) -> None:
    key = issue_api_key(session, USER)
    again = seed_departments(session)
    assert len(again) == 10
    assert session.query(Department).count() == 10
    assert authenticate(session, key).code == USER


def test_issued_key_authenticates_its_department_and_is_stored_hashed(session: Session) -> None:
    key = issue_api_key(session, POLICE)
    department = authenticate(session, key)
    assert department is not None and department.code == POLICE
    stored = session.get(Department, POLICE).api_key_hash
    assert stored.startswith("scrypt$")
    assert key.split(".")[-1] not in stored


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"), id="one-character-changed"),
        pytest.param(lambda k: k.replace(POLICE, USER), id="other-department-code"),
        pytest.param(lambda k: "", id="empty"),
        pytest.param(lambda k: "not-a-key", id="malformed"),
        pytest.param(lambda k: "gh.UNKNOWN.secret", id="unknown-department"),
    ],
)
def test_forged_keys_do_not_authenticate(session: Session, forge) -> None:  # type: ignore[no-untyped-def]
    issue_api_key(session, USER)
    key = issue_api_key(session, POLICE)
    assert authenticate(session, forge(key)) is None


def test_reissuing_a_key_revokes_the_old_one(session: Session) -> None:
    old = issue_api_key(session, USER)
    assert authenticate(session, old) is not None
    new = issue_api_key(session, USER)
    assert authenticate(session, old) is None
    assert authenticate(session, new).code == USER


def test_inactive_department_does_not_authenticate(session: Session) -> None:
    key = issue_api_key(session, USER)
    session.get(Department, USER).active = False
    assert authenticate(session, key) is None


def test_issuing_a_key_for_an_unknown_department_names_it(session: Session) -> None:
    with pytest.raises(CatalogError, match=r"unknown department 'NOPE'; known departments: .*市公安局"):
        issue_api_key(session, "NOPE")
