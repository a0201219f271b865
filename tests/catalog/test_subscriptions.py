"""The subscription workflow of 国发〔2016〕51号: every state, every refusal, every error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from catalog_factories import not_shared_person
from conftest import FINANCE, MARKET, OTHER_USER, POLICE, USER
from sqlalchemy.orm import Session

from catalog import (
    HUB_ADMIN,
    Department,
    Subscription,
    apply,
    decide,
    get_resource,
    granted_subscriptions,
    overdue_applications,
    pii_items,
    register_contracts,
    revoke,
)
from catalog.errors import CatalogError
from schemas import AccessDenied
from tests.target_support import file_target

MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


def _apply(session: Session, resource: str = "person", **overrides) -> Subscription:  # type: ignore[no-untyped-def]
    options = {
        "department_code": USER,
        "resource": resource,
        "purpose": "社会保险待遇资格认证",
        "legal_basis": "《社会保险法》第七十五条",
        "fields": ["name", "status"],
        "delivery_mode": "file",
        "now": MONDAY,
    } | overrides
    return apply(session, **options)


def _actions(sub: Subscription) -> list[tuple[str, str]]:
    return [(e.action, e.actor) for e in sub.events]


def test_unconditional_resource_is_granted_at_once(session: Session) -> None:
    sub = _apply(session, "legal_entity", fields=["name"])
    assert sub.status == "granted"
    assert sub.decided_by == "govhub" and sub.decided_at == MONDAY and sub.due_at is None
    assert _actions(sub) == [("applied", USER), ("auto_granted", "govhub")]
    assert granted_subscriptions(session, "legal_entity") == [sub]


def test_unmasked_pii_of_an_unconditional_resource_waits_for_the_provider(session: Session) -> None:
    sub = _apply(session, "legal_entity", fields=["name", "legal_rep_id"], pii_access=True)
    assert sub.status == "pending" and sub.decided_by is None
    assert sub.due_at == datetime(2026, 3, 16, 15, 59, 59, tzinfo=UTC)
    assert _actions(sub) == [("applied", USER), ("provider_review", "govhub")]
    assert "legal_rep_id (identifier)" in (sub.events[-1].note or "")
    assert granted_subscriptions(session, "legal_entity") == []
    entry = get_resource(session, "legal_entity")
    assert [i.name for i in pii_items(entry, sub.fields)] == ["legal_rep_id"]
    granted = decide(session, sub.id, actor_department=entry.provider_code, approve=True)
    assert granted.status == "granted" and granted.decided_by == entry.provider_code


def test_an_unconditional_resource_without_pii_access_is_granted_masked(session: Session) -> None:
    sub = _apply(session, "legal_entity", fields=["name", "legal_rep_id"], pii_access=False)
    assert sub.status == "granted" and not sub.pii_access


def test_conditional_resource_waits_for_the_provider_within_ten_working_days(session: Session) -> None:
    sub = _apply(session)
    assert sub.status == "pending"
    assert sub.due_at == datetime(2026, 3, 16, 15, 59, 59, tzinfo=UTC)  # Monday 16 March, 23:59:59 Beijing
    assert _actions(sub) == [("applied", USER)]
    assert granted_subscriptions(session, "person") == []


def test_provider_grants(session: Session) -> None:
    sub = _apply(session)
    later = MONDAY + timedelta(days=2)
    decide(session, sub.id, actor_department=POLICE, approve=True, reason="职责范围内", now=later)
    assert (sub.status, sub.decided_by, sub.decided_at) == ("granted", POLICE, later)
    assert _actions(sub)[-1] == ("granted", POLICE)
    assert granted_subscriptions(session, "person") == [sub]


def test_provider_refuses_with_reasons(session: Session) -> None:
    sub = _apply(session)
    decide(session, sub.id, actor_department=POLICE, approve=False, reason="申请字段超出职责范围")
    assert sub.status == "refused" and sub.refusal_reason == "申请字段超出职责范围"
    assert _actions(sub)[-1] == ("refused", POLICE)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_refusal_without_reasons_is_an_error(session: Session, reason: str | None) -> None:
    sub = _apply(session)
    with pytest.raises(CatalogError, match=r"refusing subscription #\d+ needs reasons") as info:
        decide(session, sub.id, actor_department=POLICE, approve=False, reason=reason)
    assert info.value.message_zh == "不予共享的答复必须说明理由"
    assert sub.status == "pending"


def test_not_shared_resource_is_refused_by_rule(session: Session) -> None:
    register_contracts(session, [not_shared_person()])
    sub = _apply(session, "person_sealed")
    assert sub.status == "refused"
    assert sub.refusal_reason.startswith("不予共享 (国发〔2016〕51号): 依《中华人民共和国保守国家秘密法》")
    assert _actions(sub) == [("applied", USER), ("auto_refused", "govhub")]


@pytest.mark.parametrize(
    "decider",
    [
        pytest.param(USER, id="the-applicant"),
        pytest.param(MARKET, id="another-provider"),
        pytest.param(OTHER_USER, id="a-third-department"),
    ],
)
def test_only_the_provider_may_decide(session: Session, decider: str) -> None:
    sub = _apply(session)
    with pytest.raises(AccessDenied, match=r"only the provider of person \(11430900006012344E 市公安局\) may decide"):
        decide(session, sub.id, actor_department=decider, approve=True)
    assert sub.status == "pending"


def test_deciding_twice_is_an_error(session: Session) -> None:
    sub = _apply(session)
    decide(session, sub.id, actor_department=POLICE, approve=True)
    with pytest.raises(CatalogError, match=r"already decided: it is granted") as info:
        decide(session, sub.id, actor_department=POLICE, approve=False, reason="改主意")
    assert info.value.kind == "conflict"


def test_an_auto_granted_subscription_cannot_be_decided(session: Session) -> None:
    sub = _apply(session, "legal_entity", fields=["name"])
    with pytest.raises(CatalogError, match="already decided"):
        decide(session, sub.id, actor_department=MARKET, approve=False, reason="x")


@pytest.mark.parametrize("actor", [POLICE, USER, HUB_ADMIN])
def test_a_grant_is_revoked_by_provider_subscriber_or_admin(session: Session, actor: str) -> None:
    sub = _apply(session)
    decide(session, sub.id, actor_department=POLICE, approve=True)
    when = MONDAY + timedelta(days=30)
    revoke(session, sub.id, actor=actor, reason="业务已办结", now=when)
    assert (sub.status, sub.revoked_by, sub.revoked_at) == ("revoked", actor, when)
    assert _actions(sub)[-1] == ("revoked", actor)
    assert sub.events[-1].note == "业务已办结"
    assert granted_subscriptions(session, "person") == []


def test_a_third_department_may_not_revoke(session: Session) -> None:
    sub = _apply(session, "legal_entity", fields=["name"])
    with pytest.raises(AccessDenied, match=f"department {OTHER_USER} may not revoke"):
        revoke(session, sub.id, actor=OTHER_USER, reason="x")


def test_only_grants_can_be_revoked_and_only_with_a_reason(session: Session) -> None:
    pending = _apply(session)
    with pytest.raises(CatalogError, match="is pending, not granted"):
        revoke(session, pending.id, actor=POLICE, reason="x")
    granted = _apply(session, "legal_entity", fields=["name"])
    with pytest.raises(CatalogError, match="needs a reason"):
        revoke(session, granted.id, actor=MARKET, reason=" ")
    revoke(session, granted.id, actor=MARKET, reason="x")
    with pytest.raises(CatalogError, match="is revoked, not granted"):
        revoke(session, granted.id, actor=MARKET, reason="again")


def test_overdue_applications_are_flagged_once(session: Session) -> None:
    sub = _apply(session)
    answered = _apply(session, "payment", fields=["amount"])
    decide(session, answered.id, actor_department=FINANCE, approve=True)
    assert overdue_applications(session, now=datetime(2026, 3, 16, 15, 0, tzinfo=UTC)) == []
    after = datetime(2026, 3, 16, 16, 0, 1, tzinfo=UTC)
    assert overdue_applications(session, now=after) == [sub]
    assert overdue_applications(session, now=after + timedelta(days=1)) == [sub]
    assert [a for a, _ in _actions(sub)].count("overdue") == 1
    decide(session, sub.id, actor_department=POLICE, approve=True, now=after)
    assert "answered after the due date" in sub.events[-1].note
    assert overdue_applications(session, now=after) == []


def test_unknown_resource_is_an_error(session: Session) -> None:
    with pytest.raises(CatalogError, match="unknown resource 'people'") as info:
        _apply(session, "people")
    assert info.value.kind == "not_found"


def test_unknown_fields_are_named_with_the_allowed_ones(session: Session) -> None:
    with pytest.raises(
        CatalogError, match=r"resource person has no field\(s\) salary, religion; allowed: id_number, name,"
    ):
        _apply(session, fields=["name", "salary", "religion"])


@pytest.mark.parametrize("fields", [[], "name"])
def test_fields_must_be_a_non_empty_list(session: Session, fields) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(CatalogError, match="name the data items you need from person; allowed: id_number"):
        _apply(session, fields=fields)


def test_primary_key_is_always_included_in_contract_order(session: Session) -> None:
    sub = _apply(session, fields=["status", "name"])
    assert sub.fields == ["id_number", "name", "status"]


def test_resource_may_be_named_by_its_code(session: Session) -> None:
    assert _apply(session, "101001001").resource == "person"


def test_database_mode_needs_one_of_the_departments_targets(session: Session, tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="database delivery needs target"):
        _apply(session, delivery_mode="database")
    with pytest.raises(CatalogError, match="has no delivery target named 'rs'"):
        _apply(session, delivery_mode="database", target="rs")
    file_target(session, tmp_path, USER, "rs", "postgresql+psycopg://rs@db.rsj/rs")
    sub = _apply(session, delivery_mode="database", target="rs")
    assert sub.target_name == "rs"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"delivery_mode": "email"}, "delivery_mode must be one of file, database, api", id="mode"),
        pytest.param({"schedule": "every day"}, "schedule must be 'on_publish' or a five-field cron", id="schedule"),
        pytest.param({"purpose": " "}, "purpose is required", id="purpose"),
        pytest.param({"legal_basis": ""}, "legal_basis is required", id="legal-basis"),
    ],
)
def test_bad_applications_are_refused_with_a_clear_error(session: Session, overrides: dict, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        _apply(session, **overrides)


def test_a_cron_schedule_is_accepted(session: Session) -> None:
    assert _apply(session, schedule="0 2 * * 1-5").schedule == "0 2 * * 1-5"


def test_unknown_or_inactive_or_providing_departments_cannot_apply(session: Session) -> None:
    with pytest.raises(CatalogError, match="unknown department 'NOPE'"):
        _apply(session, department_code="NOPE")
    with pytest.raises(CatalogError, match="provides resource person itself"):
        _apply(session, department_code=POLICE)
    session.get(Department, OTHER_USER).active = False
    with pytest.raises(AccessDenied, match="is inactive"):
        _apply(session, department_code=OTHER_USER)


def test_a_duplicate_active_application_is_a_conflict(session: Session) -> None:
    first = _apply(session)
    with pytest.raises(CatalogError, match=rf"already has pending subscription #{first.id}") as info:
        _apply(session)
    assert info.value.kind == "conflict"
    assert _apply(session, delivery_mode="api").status == "pending"  # another mode is another subscription
    decide(session, first.id, actor_department=POLICE, approve=False, reason="x")
    assert _apply(session).status == "pending"  # refused: may apply again


def test_times_survive_a_round_trip_through_the_store(session: Session) -> None:
    sub = _apply(session)
    session.commit()
    session.expire_all()
    stored = session.get(Subscription, sub.id)
    assert stored.applied_at.replace(tzinfo=stored.applied_at.tzinfo or UTC) == MONDAY
    assert [e.action for e in stored.events] == ["applied"]
