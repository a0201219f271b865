"""Every API error is one RFC 9457 problem document; each problem type has a page; browsers get pages."""

from __future__ import annotations

from typing import Any

from conftest import USER, Api
from visible_text import identifiers

from exchange.verify.errors import MESSAGES_ZH
from web.problems import problem_codes

_STANDARD = ("type", "title", "status", "detail", "instance", "code", "message", "message_zh")


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    document: dict[str, Any] = response.json()
    assert all(document.get(name) not in (None, "") for name in _STANDARD), document
    assert (document["status"], document["code"], document["type"]) == (status, code, f"/problems/{code}")
    assert document["detail"] == f"{document['message_zh']} — {document['message']}"
    return document


def test_fastapi_validation_errors_are_problems_naming_each_field_in_both_languages(api: Api) -> None:
    answer = api.client.post(
        "/api/subscriptions",
        headers=api.headers(USER),
        json={"resource": "person", "purpose": "", "legal_basis": "x", "fields": [], "delivery_mode": "fax"},
    )
    problem = _problem(answer, 422, "invalid_request")
    assert problem["instance"] == "/api/subscriptions" and "field" not in problem  # several fields: see errors
    by_field = {e["field"]: e for e in problem["errors"]}
    assert set(by_field) == {"purpose", "fields", "delivery_mode"}
    assert by_field["purpose"]["rule"] == "string_too_short"
    assert by_field["purpose"]["message_zh"].startswith("用途（purpose）")  # the regulation's name, then the API's
    assert by_field["fields"]["message_zh"].startswith("信息项（fields）至少需要 1 项")  # from the model's description
    assert "'file', 'database' or 'api'" in by_field["delivery_mode"]["message_zh"]
    assert all(e["field"] in e["message"] for e in problem["errors"])


def test_one_bad_field_is_named_by_field_and_a_data_item_by_its_contract_label(api: Api) -> None:
    answer = api.client.get("/api/deliveries", params={"limit": 0}, headers=api.headers(USER))
    problem = _problem(answer, 422, "invalid_request")
    assert problem["field"] == "limit" and problem["errors"][0]["rule"] == "greater_than_equal"
    assert "limit" in problem["message_zh"] and "须不小于 1" in problem["message_zh"]
    applied = api.client.post(
        "/api/subscriptions",
        headers=api.headers(USER),
        json={"resource": "person", "purpose": "p", "legal_basis": "b", "fields": ["name", 7], "delivery_mode": "api"},
    )
    assert _problem(applied, 422, "invalid_request")["field"] == "fields[1]"


def test_a_field_is_named_by_its_own_routes_description_not_a_data_item_of_the_same_name(api: Api) -> None:
    answer = api.client.post("/api/disputes", headers=api.headers(USER), json={"subscription_id": "x", "grounds": ""})
    by_field = {e["field"]: e["message_zh"] for e in _problem(answer, 422, "invalid_request")["errors"]}
    assert by_field["subscription_id"] == "共享申请编号（subscription_id）须为整数"
    assert by_field["grounds"].startswith("理由（grounds）至少 1 个字符")
    unnamed = api.client.get("/api/deliveries", params={"resource": "x" * 65}, headers=api.headers(USER))
    assert _problem(unnamed, 422, "invalid_request")["message_zh"].startswith("资源（resource）")


def test_http_errors_of_every_kind_are_problems(api: Api) -> None:
    unauthenticated = _problem(api.client.get("/api/catalog/resources"), 401, "unauthenticated")
    assert "X-API-Key" in unauthenticated["message_zh"]
    missing = _problem(api.client.get("/api/catalog/resources/999", headers=api.headers(USER)), 404, "not_found")
    assert missing["instance"] == "/api/catalog/resources/999"
    _problem(api.client.get("/api/no-such-route"), 404, "no_route")
    _problem(api.client.delete("/api/catalog/resources"), 405, "method_not_allowed")
    too_large = api.client.post("/api/subscriptions", content=b"x" * (1024 * 1024 + 1), headers=api.headers(USER))
    _problem(too_large, 413, "too_large")
    refused = api.client.post(
        "/api/subscriptions",
        headers=api.headers(USER),
        json={
            "resource": "person",
            "purpose": "p",
            "legal_basis": "b",
            "fields": ["salary"],
            "delivery_mode": "file",
            "scope": "s",
            "valid_until": "2099-12-31",
        },
    )
    assert _problem(refused, 422, "invalid")["field"] == "salary"  # the data item the contract lacks


def test_every_code_the_hub_answers_with_has_a_page_chinese_first(api: Api) -> None:
    codes = set(problem_codes())
    expected = set(MESSAGES_ZH) | {"unauthenticated", "forbidden", "not_found", "no_route", "conflict", "invalid"}
    expected |= {"invalid_request", "malformed_request", "after_version_ahead", "bad_page_token", "not_granted"}
    expected |= {"answer_not_found", "method_not_allowed", "too_large", "rate_limited", "internal_error"}
    assert expected <= codes, expected - codes
    page = api.client.get("/problems/after_version_ahead")
    assert page.status_code == 200 and "版本号超前" in page.text and "current_version" in page.text
    english = api.client.get("/problems/after_version_ahead?lang=en")
    assert "after_version beyond the current version" in english.text
    index = api.client.get("/problems")
    assert all(f'href="/problems/{code}"' in index.text for code in codes)
    _problem(api.client.get("/problems/no_such_problem"), 404, "not_found")
    for path in ["/problems", *(f"/problems/{code}" for code in codes)]:  # API names shown as code, not prose
        assert not identifiers(api.client.get(path).text), path


def test_a_browser_on_a_page_route_gets_the_problem_as_a_page(api: Api) -> None:
    html = {"Accept": "text/html,application/xhtml+xml"}
    form = api.client.post("/check", data={}, headers=html)
    assert form.status_code == 422 and form.headers["content-type"].startswith("text/html")
    assert "请求参数无效" in form.text and "document" in form.text
    gone = api.client.get("/monitor/no-such-page", headers=html)
    assert gone.status_code == 404 and "接口不存在" in gone.text and 'href="/problems' in gone.text
    assert (
        api.client.get("/api/no-such-route", headers=html)
        .headers["content-type"]
        .startswith("application/problem+json")
    )  # an API path answers as an API whatever the browser prefers


def test_an_unexpected_failure_is_a_500_problem_that_keeps_its_cause_to_the_log() -> None:
    from fastapi.testclient import TestClient

    from web import create_app

    app = create_app()

    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("secret path /srv/govhub/keys")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/api/boom")
    problem = _problem(answer, 500, "internal_error")
    assert problem["instance"] == "/api/boom" and "secret" not in answer.text and "RuntimeError" not in answer.text


def test_nan_in_a_body_is_named_without_being_echoed(api: Api) -> None:
    answer = api.client.post(
        "/api/subscriptions",
        headers={**api.headers(USER), "Content-Type": "application/json"},
        content=b'{"resource": "person", "purpose": "p", "legal_basis": "b", "fields": NaN, "delivery_mode": "api"}',
    )
    problem = _problem(answer, 422, "invalid_request")
    assert problem["field"] == "fields" and "NaN" not in answer.text
