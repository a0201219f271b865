"""The catalogue API: authentication, list and search, details, versions, lineage, DCAT, OpenAPI."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conftest import OTHER_USER, POLICE, USER, Api

import web.routes.catalog as catalog_routes
from catalog import record_version


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"X-API-Key": "gh.11430900006012408C.forged"}, id="forged"),
        pytest.param({"X-API-Key": "garbage"}, id="malformed"),
    ],
)
@pytest.mark.parametrize(
    "path",
    ["/api/catalog/resources", "/api/catalog/resources/person", "/api/catalog/dcat.jsonld", "/api/subscriptions"],
)
def test_without_a_valid_key_the_answer_is_401(api: Api, headers: dict, path: str) -> None:
    response = api.client.get(path, headers=headers)
    assert response.status_code == 401
    detail = response.json()
    assert detail["code"] == "unauthenticated" and "API" in detail["message_zh"] and detail["message"]


def test_list_resources(api: Api) -> None:
    response = api.client.get("/api/catalog/resources", headers=api.headers(USER))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    assert [r["code"] for r in body["data"]] == ["101001001", "102001001", "104001001", "312001001"]
    person = body["data"][0]
    assert person["name"] == "人口基础信息" and person["sharing_type"] == "有条件共享"
    assert person["related"] == ["102001001", "312001001"] and person["release_date"] is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "身份"}, ["101001001", "104001001"]),
        ({"provider": "市财政局"}, ["312001001"]),
        ({"classification": "102"}, ["102001001"]),
        ({"sharing_type": "conditional"}, ["101001001", "312001001"]),
        ({"q": "%"}, []),
    ],
)
def test_search_resources(api: Api, params: dict, expected: list[str]) -> None:
    response = api.client.get("/api/catalog/resources", params=params, headers=api.headers(USER))
    assert [r["code"] for r in response.json()["data"]] == expected


def test_resource_details_by_code_or_name(api: Api) -> None:
    by_code = api.client.get("/api/catalog/resources/101001001", headers=api.headers(USER)).json()
    by_name = api.client.get("/api/catalog/resources/person", headers=api.headers(USER)).json()
    assert by_code == by_name
    assert by_code["primary_key"] == ["id_number"]
    id_number = by_code["items"][0]
    assert id_number == {
        "name": "id_number",
        "label": "公民身份号码",
        "label_en": "Citizen ID number",
        "type": "string",
        "pii": "identifier",
        "required": True,
        "primary_key": True,
    }
    assert by_code["latest_version"] is None


def test_unknown_resource_is_404_with_both_languages(api: Api) -> None:
    for path in (
        "/api/catalog/resources/999",
        "/api/catalog/resources/999/versions",
        "/api/catalog/resources/999/lineage",
    ):
        response = api.client.get(path, headers=api.headers(USER))
        assert response.status_code == 404
        detail = response.json()
        assert detail["code"] == "not_found"
        assert "unknown resource '999'" in detail["message"] and detail["message_zh"] == "资源 999 不存在于资源目录中"


def test_versions_newest_first_and_release_date(api: Api) -> None:
    with api.session() as session:
        for version in (1, 2):
            record_version(
                session,
                resource="person",
                version=version,
                run_id=f"run-{version}",
                schema_fingerprint="abc",
                rows_total=10 * version,
                committed_at=datetime(2026, 3, version, tzinfo=UTC),
                scorecard={"accuracy": 0.99},
            )
        session.commit()
    body = api.client.get("/api/catalog/resources/101001001/versions", headers=api.headers(USER)).json()
    assert body["count"] == 2 and [v["version"] for v in body["data"]] == [2, 1]
    assert body["data"][0]["scorecard"] == {"accuracy": 0.99}
    detail = api.client.get("/api/catalog/resources/person", headers=api.headers(USER)).json()
    assert detail["latest_version"]["version"] == 2
    assert detail["release_date"] == "2026-03-01T08:00:00+08:00"  # Beijing time, never Z or naive


def test_lineage_shows_the_provider_all_deliveries_and_others_their_own(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        catalog_routes,
        "deliveries_for_lineage",
        lambda _s, resource: [
            {"subscription_id": 1, "department_code": USER, "version": 1},
            {"subscription_id": 2, "department_code": OTHER_USER, "version": 1},
        ],
    )
    provider_view = api.client.get("/api/catalog/resources/person/lineage", headers=api.headers(POLICE)).json()
    assert provider_view["source"]["system"] == "population"
    assert [d["subscription_id"] for d in provider_view["deliveries"]] == [1, 2]
    user_view = api.client.get("/api/catalog/resources/person/lineage", headers=api.headers(USER)).json()
    assert [d["department_code"] for d in user_view["deliveries"]] == [USER]


def test_dcat_export(api: Api) -> None:
    response = api.client.get("/api/catalog/dcat.jsonld", headers=api.headers(USER))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    body = response.json()
    assert body["@type"] == "dcat:Catalog" and "dcat" in body["@context"]
    assert [d["dct:identifier"] for d in body["dcat:dataset"]] == ["101001001", "102001001", "104001001", "312001001"]
    assert body["dcat:dataset"][0]["@id"] == "http://testserver/api/catalog/resources/101001001"


def test_openapi_documents_the_routes_in_chinese_and_english(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    operations = {(path, method): op for path, methods in spec["paths"].items() for method, op in methods.items()}
    for key in [
        ("/api/catalog/resources", "get"),
        ("/api/catalog/resources/{code}", "get"),
        ("/api/catalog/dcat.jsonld", "get"),
        ("/api/catalog/resources/{code}/versions", "get"),
        ("/api/catalog/resources/{code}/lineage", "get"),
        ("/api/subscriptions", "post"),
        ("/api/subscriptions", "get"),
        ("/api/subscriptions/{subscription_id}/decision", "post"),
        ("/api/subscriptions/{subscription_id}/revoke", "post"),
    ]:
        op = operations[key]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in op["summary"]), key
        assert op["description"].isascii() or op["description"][0].isascii(), key
        assert op.get("security") == [{"DepartmentApiKey": []}], key
    assert "ResourcesPublic" in spec["components"]["schemas"]
