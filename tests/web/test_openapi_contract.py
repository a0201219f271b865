"""The OpenAPI document is a contract: Chinese-first summaries, a model for every JSON answer, errors as problems."""

from __future__ import annotations

import re
from typing import Any

import pytest

from web import create_app

_SUMMARY = re.compile(r"^[\u4e00-\u9fff][^—]* — \S.*$")  # "核验 — verify a fact"
_JSON = ("application/json", "application/ld+json")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app().openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "responses" in operation
    ]


def _model_ref(schema: dict[str, Any]) -> bool:
    """A schema that is (a list of) a named model from the components, not an anonymous object."""
    if "$ref" in schema:
        return schema["$ref"].startswith("#/components/schemas/")
    return schema.get("type") == "array" and _model_ref(schema.get("items", {}))


def test_every_route_has_a_chinese_first_summary_and_a_description(document: dict[str, Any]) -> None:
    operations = _operations(document)
    assert len(operations) > 30
    unsummarised = [name for name, op in operations if not _SUMMARY.match(op.get("summary", ""))]
    assert not unsummarised, f"no '中文 — English' summary: {unsummarised}"
    undescribed = [name for name, op in operations if not op.get("description", "").strip()]
    assert not undescribed, f"no description: {undescribed}"


def test_every_json_answer_is_a_declared_model(document: dict[str, Any]) -> None:
    loose = []
    for name, operation in _operations(document):
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                continue
            for media_type, content in response.get("content", {}).items():
                if media_type in _JSON and not _model_ref(content.get("schema", {})):
                    loose.append(f"{name} {status} {media_type}")
    assert not loose, f"JSON answered without a response model: {loose}"


def test_every_error_answer_is_documented_as_a_problem(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "code", "message", "message_zh"} <= set(
        problem["required"]
    )
    assert {"field", "errors"} <= set(problem["properties"])
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for name, operation in _operations(document):
        errors = {s: r for s, r in operation["responses"].items() if s == "default" or int(s) >= 400}
        assert "500" in errors, name
        for status, response in errors.items():
            if name.startswith("GET /verify/answer/"):  # a printable page answers a page, for a person
                assert set(response["content"]) == ({"text/html"} if status == "404" else {"application/problem+json"})
                continue
            assert set(response["content"]) == {"application/problem+json"}, (name, status)
            assert response["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_the_verification_routes_document_their_request_and_sealed_answer(document: dict[str, Any]) -> None:
    paths = document["paths"]
    one = paths["/api/verify/{item}"]["post"]
    assert one["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/VerifyRequest")
    batch = paths["/api/verify/{item}/batch"]["post"]
    assert batch["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/VerifyBatchRequest")
    for operation in (one, batch, paths["/api/verify/answers/{answer_id}"]["get"]):
        assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/SealedAnswerPublic"
        )
    schemas = document["components"]["schemas"]
    assert {"case_number", "purpose", "subject", "params"} == set(schemas["VerifyRequest"]["properties"])
    assert {"answer", "item", "version", "issued_at", "request_hash", "seal"} == set(
        schemas["SealedAnswerPublic"]["properties"]
    )
    assert paths["/api/check"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CheckRequest"
    )
