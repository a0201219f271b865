"""Sharing under 《政务数据共享条例》: stated applications, configurable time limits, disputes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from catalog_factories import not_shared_person
from conftest import OTHER_USER, POLICE, USER
from sqlalchemy.orm import Session

from catalog import (
    HUB_ADMIN,
    Subscription,
    apply,
    configure_limits,
    current_limits,
    decide,
    decide_dispute,
    escalate,
    granted_subscriptions,
    list_disputes,
    overdue_applications,
    overdue_disputes,
    register_contracts,
)
from catalog.errors import CatalogError
from schemas import AccessDenied

MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Beijing


@pytest.fixture(autouse=True)
def default_limits() -> Iterator[None]:
    """Each test starts from the regulation's defaults and leaves them so."""
    configure_limits(answer_working_days=10, dispute_working_days=10)
    yield
    configure_limits(answer_working_days=10, dispute_working_days=10)


def _apply(session: Session, **overrides) -> Subscription:  # type: ignore[no-untyped-def]
    options = {
        "department_code": USER,
        "resource": "person",
        "purpose": "社会保险待遇资格认证",
        "legal_basis": "《社会保险法》第七十五条",
        "scope": "社保待遇资格认证系统，经办人员核验",
        "valid_until": date(2026, 12, 31),
        "fields": ["name", "status"],
        "delivery_mode": "file",
        "strict": True,
        "now": MONDAY,
    } | overrides
    return apply(session, **options)


def _refused(session: Session) -> Subscription:
    sub = _apply(session)
    return decide(
        session, sub.id, actor_department=POLICE, approve=False, reason="超出履职范围", now=MONDAY + timedelta(days=1)
    )


def test_a_stated_application_keeps_its_scope_and_term(session: Session) -> None:
    sub = _apply(session)
    assert (sub.scope, sub.valid_until) == ("社保待遇资格认证系统，经办人员核验", date(2026, 12, 31))


@pytest.mark.parametrize(
    ("missing", "value", "zh"),
    [
        ("purpose", "  ", "用途"),
        ("legal_basis", "", "依据"),
        ("scope", None, "使用范围"),
        ("scope", " ", "使用范围"),
        ("valid_until", None, "使用期限"),
    ],
)
def test_a_missing_statement_is_a_bilingual_error_naming_the_field(
    session: Session, missing: str, value: object, zh: str
) -> None:
    with pytest.raises(CatalogError) as caught:
        _apply(session, **{missing: value})
    assert caught.value.field == missing
    assert missing in str(caught.value) and "required" in str(caught.value)
    assert zh in caught.value.message_zh and missing in caught.value.message_zh
    assert session.query(Subscription).count() == 0


def test_a_term_in_the_past_is_refused(session: Session) -> None:
    with pytest.raises(CatalogError) as caught:
        _apply(session, valid_until=date(2026, 3, 1))
    assert caught.value.field == "valid_until" and "使用期限" in caught.value.message_zh


def test_library_callers_may_omit_scope_and_term_but_not_leave_them_blank(session: Session) -> None:
    sub = _apply(session, scope=None, valid_until=None, strict=False)
    assert sub.scope is None and sub.valid_until is None
    with pytest.raises(CatalogError, match="scope"):
        _apply(session, resource="payment", fields=["amount"], scope="", strict=False)


def test_the_answer_limit_is_a_setting_counted_in_working_days(session: Session) -> None:
    configure_limits(answer_working_days=5)
    sub = _apply(session)  # Monday 2 March 2026: five working days on is Monday 9 March
    assert sub.due_at == datetime(2026, 3, 9, 15, 59, 59, tzinfo=UTC)
    assert overdue_applications(session, now=datetime(2026, 3, 9, 15, 0, tzinfo=UTC)) == []
    assert overdue_applications(session, now=datetime(2026, 3, 9, 16, 0, tzinfo=UTC)) == [sub]


def test_the_default_limits_are_the_regulation_defaults() -> None:
    assert (current_limits().answer_working_days, current_limits().dispute_working_days) == (10, 10)
    with pytest.raises(ValueError, match="at least 1"):
        configure_limits(dispute_working_days=0)


def test_the_applicant_escalates_a_refusal_with_a_due_date_in_working_days(session: Session) -> None:
    sub = _refused(session)
    configure_limits(dispute_working_days=3)
    friday = datetime(2026, 3, 6, 2, 0, tzinfo=UTC)
    dispute = escalate(session, sub.id, actor_department=USER, grounds="履职确需：待遇资格认证", now=friday)
    assert dispute.status == "open" and dispute.raised_by == USER
    assert dispute.due_at == datetime(2026, 3, 11, 15, 59, 59, tzinfo=UTC)  # Mon, Tue, Wed: weekend skipped
    assert sub.events[-1].action == "escalated" and sub.events[-1].actor == USER
    assert overdue_disputes(session, now=datetime(2026, 3, 11, 15, 0, tzinfo=UTC)) == []
    late = datetime(2026, 3, 11, 16, 0, tzinfo=UTC)
    assert overdue_disputes(session, now=late) == [dispute]
    assert overdue_disputes(session, now=late + timedelta(days=1)) == [dispute]
    assert [e.action for e in sub.events].count("dispute_overdue") == 1


@pytest.mark.parametrize("actor", [POLICE, OTHER_USER, HUB_ADMIN])
def test_only_the_applicant_may_escalate(session: Session, actor: str) -> None:
    sub = _refused(session)
    with pytest.raises(AccessDenied, match="only the applying department"):
        escalate(session, sub.id, actor_department=actor, grounds="x", now=MONDAY + timedelta(days=2))
    assert list_disputes(session) == []


def test_escalation_needs_grounds_and_a_refused_or_overdue_application(session: Session) -> None:
    sub = _refused(session)
    with pytest.raises(CatalogError) as caught:
        escalate(session, sub.id, actor_department=USER, grounds="  ")
    assert caught.value.field == "grounds" and "理由" in caught.value.message_zh
    pending = _apply(session, resource="payment", fields=["amount"])
    with pytest.raises(CatalogError, match="only a refused application"):
        escalate(session, pending.id, actor_department=USER, grounds="急需", now=MONDAY + timedelta(days=1))
    overdue = escalate(
        session, pending.id, actor_department=USER, grounds="逾期未答复", now=MONDAY + timedelta(days=30)
    )
    assert overdue.status == "open"


def test_one_dispute_per_application_and_its_decision_is_final(session: Session) -> None:
    sub = _refused(session)
    dispute = escalate(session, sub.id, actor_department=USER, grounds="履职确需")
    with pytest.raises(CatalogError, match="still open") as caught:
        escalate(session, sub.id, actor_department=USER, grounds="再次")
    assert caught.value.kind == "conflict"
    decide_dispute(session, dispute.id, actor=HUB_ADMIN, outcome="upheld", reason="维持")
    with pytest.raises(CatalogError, match=r"decided \(upheld\), final"):
        escalate(session, sub.id, actor_department=USER, grounds="第三次")
    assert len(list_disputes(session)) == 1


def test_the_authority_grants_on_dispute(session: Session) -> None:
    sub = _refused(session)
    dispute = escalate(session, sub.id, actor_department=USER, grounds="履职确需")
    decide_dispute(session, dispute.id, actor=HUB_ADMIN, outcome="granted", reason="属于履职所需，准予共享")
    assert dispute.status == "granted" and dispute.decided_by == HUB_ADMIN
    assert sub.status == "granted" and sub.refusal_reason is None and sub.decided_by == HUB_ADMIN
    assert granted_subscriptions(session, "person") == [sub]
    assert sub.events[-1].action == "granted_on_dispute"


def test_the_authority_upholds_an_unanswered_application_as_refused(session: Session) -> None:
    sub = _apply(session)
    dispute = escalate(session, sub.id, actor_department=USER, grounds="逾期未答复", now=MONDAY + timedelta(days=30))
    decide_dispute(session, dispute.id, actor=HUB_ADMIN, outcome="upheld", reason="数据涉及敏感信息")
    assert sub.status == "refused" and "upheld on dispute" in (sub.refusal_reason or "")


@pytest.mark.parametrize("actor", [USER, POLICE])
def test_only_the_authority_decides_a_dispute(session: Session, actor: str) -> None:
    sub = _refused(session)
    dispute = escalate(session, sub.id, actor_department=USER, grounds="履职确需")
    with pytest.raises(AccessDenied, match="sharing authority"):
        decide_dispute(session, dispute.id, actor=actor, outcome="granted", reason="x")
    assert dispute.status == "open" and sub.status == "refused"


def test_a_dispute_decision_needs_reasons_and_is_final(session: Session) -> None:
    sub = _refused(session)
    dispute = escalate(session, sub.id, actor_department=USER, grounds="履职确需")
    with pytest.raises(CatalogError) as caught:
        decide_dispute(session, dispute.id, actor=HUB_ADMIN, outcome="upheld", reason=" ")
    assert caught.value.field == "reason"
    decide_dispute(session, dispute.id, actor=HUB_ADMIN, outcome="upheld", reason="维持")
    with pytest.raises(CatalogError, match="already decided"):
        decide_dispute(session, dispute.id, actor=HUB_ADMIN, outcome="granted", reason="改判")


def test_a_grant_past_its_term_of_use_gets_no_more_deliveries(session: Session) -> None:
    sub = _apply(session, valid_until=date(2026, 3, 31))
    decide(session, sub.id, actor_department=POLICE, approve=True, now=MONDAY)
    last_day = datetime(2026, 3, 31, 15, 59, tzinfo=UTC)  # 23:59 in Beijing on the last day
    assert granted_subscriptions(session, "person", now=last_day) == [sub]
    assert granted_subscriptions(session, "person", now=last_day + timedelta(minutes=2)) == []
    assert sub.status == "granted"


def test_a_dispute_cannot_grant_what_the_catalogue_does_not_share(session: Session) -> None:
    register_contracts(session, [not_shared_person()])
    sub = _apply(session, resource="person_sealed")
    assert sub.status == "refused"
    dispute = escalate(session, sub.id, actor_department=USER, grounds="履职确需")
    with pytest.raises(CatalogError, match="不予共享") as caught:
        decide_dispute(session, dispute.id, actor=HUB_ADMIN, outcome="granted", reason="准予")
    assert caught.value.kind == "conflict" and sub.status == "refused" and dispute.status == "open"
    decide_dispute(session, dispute.id, actor=HUB_ADMIN, outcome="upheld", reason="依法不予共享")


def test_a_late_grant_by_the_provider_cannot_be_turned_into_a_refusal(session: Session) -> None:
    sub = _apply(session)
    dispute = escalate(session, sub.id, actor_department=USER, grounds="逾期未答复", now=MONDAY + timedelta(days=30))
    decide(session, sub.id, actor_department=POLICE, approve=True, now=MONDAY + timedelta(days=31))
    with pytest.raises(CatalogError, match="revoke the grant instead"):
        decide_dispute(session, dispute.id, actor=HUB_ADMIN, outcome="upheld", reason="维持")
    assert sub.status == "granted"
    decide_dispute(session, dispute.id, actor=HUB_ADMIN, outcome="granted", reason="提供部门已同意")
    assert dispute.status == "granted" and sub.status == "granted"
