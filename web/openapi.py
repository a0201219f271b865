"""The app's OpenAPI document: FastAPI's, with every error answer documented as a problem (RFC 9457).

FastAPI documents validation errors with its own `HTTPValidationError` and any other error as JSON;
the hub answers every error as `application/problem+json` (`web.problems.Problem`), so each error
response of each operation is rewritten to that, a 500 is documented everywhere, and the models of
bodies the fast routes read themselves (`web.verify_models`) join the components.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from web.problems import PROBLEM_MEDIA_TYPE, FieldProblem, Problem
from web.verify_models import CheckRequest, VerifyBatchRequest, VerifyRequest

__all__ = ["install_openapi"]

_EXTRA_MODELS: tuple[type[BaseModel], ...] = (Problem, FieldProblem, VerifyRequest, VerifyBatchRequest, CheckRequest)
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
_INTERNAL = "平台内部错误 — internal error: nothing was changed; the hub's log holds the cause (问题详情 Problem)"


def _error_status(code: str) -> bool:
    return code == "default" or (code.isdigit() and int(code) >= 400)


def _problems_everywhere(document: dict[str, Any]) -> None:
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            responses.setdefault("500", {"description": _INTERNAL})
            for code, response in responses.items():
                if _error_status(code) and "text/html" not in response.get("content", {}):  # pages answer pages
                    if code == "422" and response.get("description") == "Validation Error":
                        response["description"] = "请求参数无效 — invalid request: `errors` names each field"
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_REF}}


def _add_models(document: dict[str, Any]) -> None:
    _, top = models_json_schema(
        [(model, "validation") for model in _EXTRA_MODELS], ref_template="#/components/schemas/{model}"
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in top.get("$defs", {}).items():
        schemas.setdefault(name, schema)
    for name in _FASTAPI_VALIDATION:
        schemas.pop(name, None)


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` the hub's document (built once, then cached like FastAPI's own)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            _add_models(document)
            _problems_everywhere(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
