"""Targeted attacks on the API: each refused, each in the exchange log with who and what, nothing disclosed.

Families: missing, forged, revoked and inactive keys; another department's subscriptions and
deliveries; verification items and fields not granted; SQL injection and path traversal in every
parameter and body field of the spec; oversized bodies; replays; wrong methods; malformed JSON.
Every attack is counted in the ledger ("attacks") before the assertions.

Replays, as the hub handles them: a verification request carries no nonce. Replayed, it is answered
again (same result, same request_hash, a new answer id) and logged again as its own query: it changes
no data, and the client's rate limit bounds it. A sealed answer replayed against another question
fails its check (request_hash). Replayed department writes are refused: a second identical
application, decision or revocation is a logged 409. A replayed page token returns the same page.
Keys do not expire by time: a department key is revoked by issuing a new one, a client key by
rotation or by deactivating the client; both are covered.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from catalog import Department, Subscription
from exchange.log import ExchangeEvent, ExchangeLog
from exchange.verify import register_client, rotate_key
from exchange.verify.clients import VerificationClient
from tests.exchange.test_verify_service import CASES
from tests.exchange.verify_support import P_ZHANG, body
from tests.reliability.attack_hub import (
    OTHER_PURPOSE,
    OTHER_TARGET,
    OTHER_TARGET_PASSWORD,
    OTHER_USER,
    USER,
    AttackHub,
    attack_hub,
)
from tests.reliability.attack_kit import (
    METHODS,
    Operation,
    Tally,
    fill_path,
    injection_targets,
    operations,
    payloads,
    protected_operations,
)
from tests.reliability.ledger import long_form, record
from web.limits import MAX_REQUEST_BYTES


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AttackHub]:
    with attack_hub(tmp_path_factory.mktemp("attack-hub")) as built:
        yield built


@pytest.fixture(scope="module")
def spec(hub: AttackHub) -> dict[str, Any]:
    return hub.client.get("/openapi.json").json()


def _send(hub: AttackHub, method: str, path: str, **kwargs: Any) -> tuple[Any, list[ExchangeEvent]]:
    """The answer and the exchange-log events appended while answering."""
    before = hub.last_seq()
    response = hub.client.request(method, path, **kwargs)
    return response, hub.events_after(before)


def _path_values(hub: AttackHub) -> dict[str, str]:
    return {
        "code": "person",
        "subscription_id": str(hub.subscriptions["user_person_api"]),
        "item": "identity_matches",
        "answer_id": "00000000-0000-0000-0000-000000000000",
        "department_code": OTHER_USER,
        "name": OTHER_TARGET,
        "flag_id": "1",
    }


def _valid_body(op: Operation) -> Any:
    """A well-formed body for each operation that takes one (so only the attack itself is wrong)."""
    if op.path == "/api/subscriptions":
        return {
            "resource": "legal_entity",
            "purpose": "企业登记核查",
            "legal_basis": "《市场主体登记管理条例》",
            "scope": "企业登记核查系统",
            "valid_until": "2099-12-31",
            "fields": ["uscc", "name"],
            "delivery_mode": "api",
        }
    if op.path == "/api/disputes":
        return {"subscription_id": 1, "grounds": "履职确需"}
    if op.path == "/api/corrections":
        return {
            "resource": "person",
            "record_key": P_ZHANG,
            "field": "name",
            "problem": "姓名有误",
            "evidence_ref": "户口簿",
        }
    if op.path.endswith("/decide"):
        return {"outcome": "upheld", "reason": "依法不予共享"}
    if op.path.endswith(("/confirm", "/reject")):
        return {"reason": "核实无误"}
    if op.path == "/monitor/api/targets":
        return {"department_code": USER, "name": "rsj-db", "setting": "rsj"}
    if op.path.endswith("/decision"):
        return {"approve": False, "reason": "材料不全"}
    if op.path.endswith("/revoke"):
        return {"reason": "业务已办结"}
    if op.path.endswith("/batch"):
        return {"case_number": "YY-1", "purpose": "批量核验", "subjects": [{"id_number": P_ZHANG, "name": "张三"}]}
    if op.path.startswith("/api/verify/"):
        return body({"id_number": P_ZHANG, "name": "张三"})
    if op.path == "/api/check":
        return {"document": {}, "request": None}
    return None


def _finish(tally: Tally, case: str, **figures: Any) -> None:
    record("attacks", case, tried=tally.tried, held=tally.held, **tally.figures(), **figures)
    assert tally.tried > 0
    assert tally.held == tally.tried, tally.report()


def _refused(status: int) -> bool:
    return status in (401, 403)


# -- keys ----------------------------------------------------------------------------------------------


def test_missing_key_is_refused_and_logged_everywhere(hub: AttackHub, spec: dict[str, Any]) -> None:
    tally = Tally("missing key", hub.protected)
    for op in protected_operations(spec):
        path = fill_path(op.path, _path_values(hub))
        response, events = _send(hub, op.method, path, json=_valid_body(op))
        tally.judge(f"{op.label} without a key", response, events, expect=lambda s: s == 401, must_log=True)
    _finish(tally, "missing key", operations=len(protected_operations(spec)))


def _department_forgeries(hub: AttackHub) -> list[tuple[str, str]]:
    real = hub.keys["user"]
    return [
        ("forged secret for a real department", f"gh.{USER}.{secrets.token_urlsafe(32)}"),
        ("real key with one character changed", real[:-1] + ("A" if real[-1] != "A" else "B")),
        ("unknown department code", f"gh.11430900XXXXXXXXXX.{secrets.token_urlsafe(32)}"),
        ("malformed key", "gh.."),
        ("bearer token instead of a key", "Bearer eyJhbGciOiJub25lIn0.e30."),
        ("SQL in the key", "gh.' OR '1'='1.x"),
        ("a verification client's key", hub.client_keys["all"]),
    ]


def _client_forgeries(hub: AttackHub) -> list[tuple[str, str]]:
    real = hub.client_keys["all"]
    return [
        ("forged secret for a real client", f"all.{secrets.token_urlsafe(32)}"),
        ("real key with one character changed", real[:-1] + ("A" if real[-1] != "A" else "B")),
        ("unknown client", f"nobody.{secrets.token_urlsafe(32)}"),
        ("client id alone", "all"),
        ("over-long key", "all." + "x" * 500),
        ("a department's key", hub.keys["user"]),
    ]


def test_forged_keys_are_refused_and_logged(hub: AttackHub, spec: dict[str, Any]) -> None:
    """Each protected operation gets one forgery in turn (every forgery on every operation in the long form)."""
    tally = Tally("forged key", hub.protected)
    department, client = _department_forgeries(hub), _client_forgeries(hub)
    for i, op in enumerate(protected_operations(spec)):
        verify = op.path.startswith("/api/verify/")
        forgeries = client if verify else department
        header = "X-Client-Key" if verify else "X-API-Key"
        chosen = forgeries if long_form() else [forgeries[i % len(forgeries)]]
        path = fill_path(op.path, _path_values(hub))
        for name, key in chosen:
            response, events = _send(hub, op.method, path, json=_valid_body(op), headers={header: key})
            tally.judge(f"{op.label} with {name}", response, events, expect=lambda s: s == 401, must_log=True)
    for name, key in department + client:  # every forgery at least once
        op_path = "/api/subscriptions" if (name, key) in department else "/api/verify/identity_matches"
        header = "X-API-Key" if (name, key) in department else "X-Client-Key"
        method = "GET" if header == "X-API-Key" else "POST"
        payload = None if method == "GET" else _valid_body(Operation("POST", op_path, {}))
        response, events = _send(hub, method, op_path, json=payload, headers={header: key})
        tally.judge(f"{op_path} with {name}", response, events, expect=lambda s: s == 401, must_log=True)
    _finish(tally, "forged key", kinds=len(department) + len(client))


def test_revoked_and_inactive_keys_and_clients_are_refused_and_logged(hub: AttackHub, spec: dict[str, Any]) -> None:
    tally = Tally("revoked or inactive key", hub.protected)
    department_ops = [op for op in protected_operations(spec) if not op.path.startswith("/api/verify/")]
    for name, key in (
        ("a replaced (revoked) department key", hub.revoked_key),
        ("the key of an inactive department", hub.inactive_key),
    ):
        for op in department_ops:
            path = fill_path(op.path, _path_values(hub))
            response, events = _send(hub, op.method, path, json=_valid_body(op), headers={"X-API-Key": key})
            tally.judge(f"{op.label} with {name}", response, events, expect=lambda s: s == 401, must_log=True)

    with Session(hub.engine) as session:
        _, deactivated = register_client(
            session, client_id="retired", name="已停用系统", allowed_items=["person_alive"]
        )
        _, old = register_client(session, client_id="rekeyed", name="已换密钥系统", allowed_items=["person_alive"])
        session.commit()
    single = body({"id_number": P_ZHANG})
    batch = {"case_number": "YY-1", "purpose": "批量核验", "subjects": [{"id_number": P_ZHANG}]}
    for key in (deactivated, old):  # both work first (and are remembered by the registry's cache)
        assert (
            hub.client.post("/api/verify/person_alive", json=single, headers={"X-Client-Key": key}).status_code == 200
        )
    with Session(hub.engine) as session:
        session.get(VerificationClient, "retired").active = False  # type: ignore[union-attr]
        rotate_key(session, "rekeyed")
        session.commit()
    hub.served.service.clients.forget()  # as `govhub verify` does after a change; else within cache_seconds
    for name, key in (("a deactivated client's key", deactivated), ("a rotated-out client key", old)):
        for path, payload in (("/api/verify/person_alive", single), ("/api/verify/person_alive/batch", batch)):
            response, events = _send(hub, "POST", path, json=payload, headers={"X-Client-Key": key})
            tally.judge(f"{path} with {name}", response, events, expect=lambda s: s == 401, must_log=True)
    _finish(tally, "revoked or inactive key or client")


# -- other departments' records, items and fields not granted --------------------------------------------


def test_another_departments_subscriptions_and_deliveries_are_refused_logged_and_hidden(hub: AttackHub) -> None:
    tally = Tally("another department's records", [*hub.protected, OTHER_PURPOSE, OTHER_TARGET_PASSWORD, OTHER_USER])
    user = hub.headers("user")
    others = [hub.subscriptions[k] for k in ("other_person_api", "other_entity_file", "other_credit_database")]
    for sid in others:
        for method, path, payload in (
            ("GET", f"/api/subscriptions/{sid}", None),
            ("POST", f"/api/subscriptions/{sid}/decision", {"approve": True}),
            ("POST", f"/api/subscriptions/{sid}/revoke", {"reason": "越权撤销"}),
            ("GET", f"/api/deliveries/{sid}/changes", None),
            ("GET", f"/api/deliveries/{sid}/changes?after_version=-1&limit=10000", None),
        ):
            response, events = _send(hub, method, path, json=payload, headers=user)
            unnamed = None if _names(events, department=USER) else "the log does not name 市人社局"
            tally.judge(
                f"{method} {path} as 市人社局",
                response,
                events,
                expect=lambda s: s == 404,
                must_log=True,
                problem=unnamed,
            )
    # the market regulator provides legal_entity, not person: it may not decide on person applications
    response, events = _send(
        hub,
        "POST",
        f"/api/subscriptions/{others[0]}/decision",
        json={"approve": False, "reason": "x"},
        headers=hub.headers("market"),
    )
    tally.judge("decide on another provider's application", response, events, expect=lambda s: s == 404, must_log=True)
    # forbidden on one's own records: the applicant deciding, pulling a pending subscription
    pending = hub.subscriptions["user_payment_pending"]
    for method, path, payload in (
        ("POST", f"/api/subscriptions/{pending}/decision", {"approve": True}),
        ("GET", f"/api/deliveries/{pending}/changes", None),
    ):
        response, events = _send(hub, method, path, json=payload, headers=user)
        tally.judge(f"{method} {path} (own, not allowed)", response, events, expect=_refused, must_log=True)
    # listings a department may read show only its own: nothing of 市住建局's
    for path in (
        "/api/subscriptions",
        "/api/deliveries",
        "/api/catalog/resources/person/lineage",
        "/api/catalog/resources/legal_entity/lineage",
        "/monitor/api/log?per_page=500",
        "/monitor/api/sharing",
        "/monitor/api/exchanges",
    ):
        response, events = _send(hub, "GET", path, headers=user)
        tally.judge(f"GET {path} as 市人社局", response, events, expect=lambda s: s == 200, must_log=False)
    _finish(tally, "another department's subscriptions and deliveries")


def _names(events: list[ExchangeEvent], **who: str) -> bool:
    return any(all(getattr(e, k) == v for k, v in who.items()) for e in events)


def test_verification_items_not_granted_are_refused_and_logged_with_the_client(hub: AttackHub) -> None:
    tally = Tally("items not granted", hub.protected)
    narrow = {"X-Client-Key": hub.client_keys["narrow"]}  # granted identity_matches only
    subjects = {item: (subject, params) for item, subject, params, _ in CASES}
    for item, (subject, params) in subjects.items():
        if item == "identity_matches":
            continue
        for path, payload in (
            (f"/api/verify/{item}", body(subject, params)),
            (
                f"/api/verify/{item}/batch",
                {"case_number": "YY-2", "purpose": "越权核验", "subjects": [subject], "params": params or {}},
            ),
        ):
            response, events = _send(hub, "POST", path, json=payload, headers=narrow)
            named = _names(events, client="narrow", error_code="item_not_granted")
            tally.judge(
                f"{path} by a client granted one item",
                response,
                events,
                expect=lambda s: s == 403,
                must_log=True,
                problem=None if named else "the log does not name the client and reason",
            )
    _finish(tally, "verification items not granted", items=len(subjects) - 1)


def test_fields_not_granted_are_never_delivered_or_answered(hub: AttackHub) -> None:
    """A pull carries only the granted fields, masked; an answer only what its item discloses; asking more: refused."""
    tally = Tally("fields not granted", hub.protected)
    sub = hub.subscriptions["user_person_api"]
    with Session(hub.engine) as session:
        granted = set(session.get(Subscription, sub).fields)  # type: ignore[union-attr]
    response, events = _send(hub, "GET", f"/api/deliveries/{sub}/changes?after_version=-1", headers=hub.headers("user"))
    rows = response.json()["rows"] if response.status_code == 200 else []
    extra = {k for r in rows for k in r} - granted - {"_change_type", "_commit_version"}
    tally.judge(
        "pull of person rows without PII access",
        response,
        events,
        expect=lambda s: s == 200,
        must_log=True,
        problem=f"fields not granted {sorted(extra)} in {len(rows)} rows" if extra or not rows else None,
    )

    catalogue = {i["code"]: i for i in hub.client.get("/api/verify/items").json()["data"]}
    everyone = {"X-Client-Key": hub.client_keys["all"]}
    for item, subject, params, _ in CASES:
        response, events = _send(hub, "POST", f"/api/verify/{item}", json=body(subject, params), headers=everyone)
        disclosed = set(catalogue[item]["discloses"]) | {"answer_id", "case_number"}
        answer = response.json().get("answer", {}) if response.status_code == 200 else {}
        beyond = set(answer) - disclosed
        tally.judge(
            f"{item} answers only what it discloses",
            response,
            events,
            expect=lambda s: s == 200,
            must_log=True,
            may_show=[*subject.values(), *_values(answer)],
            problem=f"the answer holds {sorted(beyond)} beyond what it discloses" if beyond or not answer else None,
        )
    for name, payload in (
        ("asking for extra fields", body({"id_number": P_ZHANG, "name": "张三"}, fields=["birth_date", "address"])),
        ("a subject field the item does not take", body({"id_number": P_ZHANG, "name": "张三", "birth_date": "x"})),
        ("a param the item does not take", body({"id_number": P_ZHANG, "name": "张三"}, {"return": "name"})),
    ):
        response, events = _send(hub, "POST", "/api/verify/identity_matches", json=payload, headers=everyone)
        tally.judge(name, response, events, expect=lambda s: s == 422, must_log=True)
    _finish(tally, "fields not granted")


def _values(answer: dict[str, Any]) -> list[str]:
    return [str(v) for v in answer.values()]


# -- hostile input ------------------------------------------------------------------------------------------


def test_injection_and_traversal_in_every_parameter_are_harmless_and_logged(
    hub: AttackHub, spec: dict[str, Any]
) -> None:
    """Every parameter and body field of the spec gets each hostile string (as the department / the client).

    Held: no 5xx, nothing protected or read from disk in the answer, a refusal is logged, and afterwards
    the store is intact (same departments, resources, clients, keys; the exchange log verifies).
    """
    tally = Tally("injection", hub.protected)
    targets = injection_targets(spec, hub.served.service)
    before = _census(hub)
    auth = {"X-API-Key": hub.keys["user"], "X-Client-Key": hub.client_keys["all"]}
    subjects = {item: (subject, params) for item, subject, params, _ in CASES}
    # pulls aim at a granted subscription (so the query reaches the lake); decisions and revocations at the
    # caller's pending application (refused: the attack must not withdraw a grant other tests rely on)
    pending = {**_path_values(hub), "subscription_id": str(hub.subscriptions["user_payment_pending"])}
    for target in targets:
        op = target.operation
        values = pending if op.path.startswith("/api/subscriptions/") else _path_values(hub)
        for value in payloads(long_form()):
            hostile = (target.name, value) if target.location == "path" else None
            path = fill_path(op.path, values, hostile=hostile)
            kwargs: dict[str, Any] = {"headers": auth}
            if target.location == "query":
                kwargs["params"] = {target.name: value}
            if target.location == "body":
                kwargs["json"] = {**_valid_body(op), target.name: value}
            elif target.location == "form":
                kwargs["data"] = {target.name: value}
            elif target.location == "verify-body":
                path = fill_path(op.path, {"item": target.item or "identity_matches"})
                kwargs["json"] = _verify_body(op, target, value, subjects)
            elif op.method == "POST" and (payload := _valid_body(op)) is not None:
                kwargs["json"] = payload
            response, events = _send(hub, op.method, path, **kwargs)
            verify = op.path.startswith("/api/verify/{item}") and not _no_route(response)
            # a 404 here is "no such record" (the caller's own ids are used): not a refusal, not logged
            must_log = verify or (response.status_code not in range(200, 300) and response.status_code != 404)
            tally.judge(
                f"{op.label} {target.location}:{target.name}={value[:30]!r}",
                response,
                events,
                expect=lambda s: s < 500,
                must_log=must_log,
                may_show=_own(hub),
            )
    after = _census(hub)
    report = ExchangeLog(hub.engine).verify()
    record(
        "attacks",
        "store intact after injections",
        tried=1,
        held=int(after == before and report.ok),
        events_checked=report.events_checked,
    )
    _finish(
        tally,
        "SQL injection and path traversal in every parameter and body field",
        targets=len(targets),
        payloads=len(payloads(long_form())),
    )
    assert after == before, (before, after)
    assert report.ok, report


def _no_route(response: Any) -> bool:
    """The router's own 404 (problem `no_route`): the (decoded) path matches no route, so no handler ever ran."""
    return response.status_code == 404 and response.json().get("code") == "no_route"


def _own(hub: AttackHub) -> list[str]:
    """What the attacking department and client may see of their own: verification answers name their subjects."""
    return [v for v in hub.protected if v in {"张三", "李四", "王五", "赵六"}]


def _verify_body(op: Operation, target: Any, value: str, subjects: dict[str, Any]) -> dict[str, Any]:
    subject, params = subjects.get(target.item, ({"id_number": P_ZHANG, "name": "张三"}, None))
    subject, params = dict(subject), dict(params or {})
    request: dict[str, Any] = {"case_number": "YY-3", "purpose": "注入测试"}
    kind, _, name = target.name.partition(".")
    if kind == "subject":
        subject[name] = value
    elif kind == "params":
        params[name] = value
    else:
        request[target.name] = value
    if op.path.endswith("/batch"):
        return {**request, "subjects": [subject], "params": params}
    return {**request, "subject": subject, "params": params}


def _census(hub: AttackHub) -> dict[str, Any]:
    """What an injection must not change: departments (and their keys), resources, clients (and keys), grants."""
    with Session(hub.engine) as session:
        return {
            "departments": sorted(
                session.execute(sa.select(Department.code, Department.api_key_hash, Department.active)).tuples()
            ),
            "resources": session.scalar(sa.text("SELECT COUNT(*) FROM resource")),
            "clients": sorted(
                session.execute(
                    sa.select(VerificationClient.id, VerificationClient.key_hash, VerificationClient.active)
                ).tuples()
            ),
            "subscriptions": sorted(
                session.execute(
                    sa.select(Subscription.id, Subscription.department_code, Subscription.status).where(
                        Subscription.id.in_(hub.subscriptions.values())
                    )
                ).tuples()
            ),
            "integrity": session.scalar(sa.text("PRAGMA integrity_check")),
        }


def test_oversized_bodies_are_refused_unread_and_logged(hub: AttackHub, spec: dict[str, Any]) -> None:
    tally = Tally("oversized body", hub.protected)
    big = b'{"purpose": "' + b"x" * (MAX_REQUEST_BYTES + 1024) + b'"}'
    auth = {"X-API-Key": hub.keys["user"], "X-Client-Key": hub.client_keys["all"], "content-type": "application/json"}
    posts = [op for op in operations(spec) if op.method == "POST"]
    for op in posts:
        path = fill_path(op.path, _path_values(hub))
        verify = op.path.startswith("/api/verify/")
        for how, content in (("declared", big), ("chunked", _chunks(big))):
            response, events = _send(hub, "POST", path, content=content, headers=auth)
            expect = (lambda s: s == 422) if verify else (lambda s: s == 413)  # verification: typed 422 too_large
            coded = any(e.error_code == "too_large" for e in events)
            tally.judge(
                f"{op.label} {how} {len(big)} bytes",
                response,
                events,
                expect=expect,
                must_log=True,
                problem=None if coded else "logged without error_code too_large",
            )
    under = hub.client.post("/api/subscriptions", content=b'{"purpose": "' + b"x" * 1000 + b'"}', headers=auth)
    assert under.status_code == 422, "a body under the cap reaches the app (and fails validation there)"
    _finish(tally, "oversized bodies", cap_bytes=MAX_REQUEST_BYTES, operations=len(posts))


def _chunks(data: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_replayed_requests_have_no_double_effect(hub: AttackHub) -> None:
    tally = Tally("replay", hub.protected)
    everyone = {"X-Client-Key": hub.client_keys["all"]}
    question = body({"id_number": P_ZHANG, "name": "张三"})
    first, first_events = _send(hub, "POST", "/api/verify/identity_matches", json=question, headers=everyone)
    again, again_events = _send(hub, "POST", "/api/verify/identity_matches", json=question, headers=everyone)
    a, b = first.json(), again.json()
    same = (a["answer"]["match"], a["request_hash"], a["version"]) == (
        b["answer"]["match"],
        b["request_hash"],
        b["version"],
    )
    tally.tried += 1
    if same and a["answer"]["answer_id"] != b["answer"]["answer_id"] and len(first_events) == len(again_events) == 1:
        tally.held += 1
    else:
        tally.failures.append("a replayed verification is not answered the same, once more, and logged")
    # a sealed answer replayed as the answer to another question fails its check
    other = body({"id_number": P_ZHANG, "name": "李四"})
    checked = hub.client.post(
        "/api/check", json={"document": a, "request": {"item": "identity_matches", **other, "params": {}}}
    )
    tally.tried += 1
    if checked.json() == {**checked.json(), "ok": False, "reason": "request_hash"}:
        tally.held += 1
    else:
        tally.failures.append(f"a sealed answer replayed for another question passed: {checked.text}")

    user, police = hub.headers("user"), hub.headers("police")
    application = {
        "resource": "person",
        "purpose": "就业补贴审核",
        "legal_basis": "《就业促进法》",
        "scope": "就业补贴审核系统",
        "valid_until": "2099-12-31",
        "fields": ["id_number", "name"],
        "delivery_mode": "file",
    }
    created = hub.client.post("/api/subscriptions", json=application, headers=user)
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    writes = (
        ("replayed application", "POST", "/api/subscriptions", application, user),
        ("replayed grant", "POST", f"/api/subscriptions/{sid}/decision", {"approve": True}, police),
        ("replayed revocation", "POST", f"/api/subscriptions/{sid}/revoke", {"reason": "办结"}, user),
    )
    for name, method, path, payload, headers in writes:
        if name != "replayed application":  # do it once for real, then replay it
            assert hub.client.request(method, path, json=payload, headers=headers).status_code == 200
        response, events = _send(hub, method, path, json=payload, headers=headers)
        tally.judge(name, response, events, expect=lambda s: s == 409, must_log=True)
    with Session(hub.engine) as session:
        same_apps = session.scalar(
            sa.select(sa.func.count())
            .select_from(Subscription)
            .where(Subscription.department_code == USER, Subscription.purpose == application["purpose"])
        )
        events = [e.action for e in session.get(Subscription, sid).events]  # type: ignore[union-attr]
    tally.tried += 1
    if same_apps == 1 and events.count("granted") <= 1 and events.count("revoked") == 1:
        tally.held += 1
    else:
        tally.failures.append(f"replays changed the record: {same_apps} applications, events {events}")

    mine = hub.subscriptions["user_person_api"]
    page = hub.client.get(f"/api/deliveries/{mine}/changes?after_version=-1&limit=1", headers=user).json()
    if page["next_page_token"]:
        token = page["next_page_token"]
        second = [
            hub.client.get(
                f"/api/deliveries/{mine}/changes", params={"page_token": token, "limit": 1}, headers=user
            ).json()["rows"]
            for _ in range(2)
        ]
        tally.tried += 1
        tally.held += second[0] == second[1]
    _finish(
        tally, "replayed requests", verification="answered again, logged again, no data change", writes="refused 409"
    )


def test_wrong_methods_are_refused_and_logged(hub: AttackHub, spec: dict[str, Any]) -> None:
    tally = Tally("wrong method", hub.protected)
    auth = {"X-API-Key": hub.keys["user"], "X-Client-Key": hub.client_keys["all"]}
    routes = [
        (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", p) + "$"), {m.upper() for m in ops})
        for p, ops in spec["paths"].items()
    ]
    for path in spec["paths"]:
        concrete = fill_path(path, _path_values(hub))
        # methods some route accepts at this concrete path (POST /api/verify/items is the item "items")
        allowed = {m for pattern, methods in routes if pattern.match(concrete) for m in methods}
        for method in METHODS:
            if method in allowed:
                continue
            response, events = _send(hub, method, concrete, headers=auth)
            tally.judge(f"{method} {path}", response, events, expect=lambda s: s == 405, must_log=True)
    _finish(tally, "wrong methods", paths=len(spec["paths"]))


MALFORMED = (
    b"{",
    b'{"a": 1,}',
    b"[]",
    b"null",
    b'"text"',
    b"\xff\xfe\x00{",
    b"NaN",
    b'{"a": 1}{"b": 2}',
    b"",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"purpose": 1e999}',
    b'{"a": "\\ud800"}',
)


def test_malformed_json_is_refused_and_logged(hub: AttackHub, spec: dict[str, Any]) -> None:
    """Every operation reading a JSON body; the public /api/check answers ok=false (a checker, not an exchange)."""
    tally = Tally("malformed JSON", hub.protected)
    auth = {"X-API-Key": hub.keys["user"], "X-Client-Key": hub.client_keys["all"], "content-type": "application/json"}
    json_ops = [op for op in operations(spec) if op.method == "POST" and op.path not in ("/check",)]
    for op in json_ops:
        path = fill_path(op.path, _path_values(hub))
        for content in MALFORMED:
            response, events = _send(hub, "POST", path, content=content, headers=auth)
            if op.path == "/api/check":
                tally.judge(
                    f"{op.label} {content[:20]!r}",
                    response,
                    events,
                    must_log=False,
                    expect=lambda s, r=response: s == 200 and r.json()["ok"] is False,
                )
            else:
                tally.judge(
                    f"{op.label} {content[:20]!r}", response, events, expect=lambda s: 400 <= s < 500, must_log=True
                )
    _finish(tally, "malformed JSON", operations=len(json_ops), bodies=len(MALFORMED))
