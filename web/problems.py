"""RFC 9457 problem details: the one error shape of every govhub API answer (`application/problem+json`).

A route refuses with `problem(...)` (status, stable code, English and Chinese message, the field at
fault) or turns a govhub error into one with `problem_from_error(error)` / `raise_problem(error)`.
Whatever an error started as (an `HTTPException` with a dict or a string detail, FastAPI's validation
errors, the verification service's `{"error": {...}}`), `problem_document` makes it one document:
`type` (`/problems/<code>`, a page explaining the problem), `title`, `status`, `detail`, `instance`,
and the extensions `code`, `message`, `message_zh`, `field`, and `errors` for several fields.
Titles and explanations are the `problem_<code>` entries of the message catalogue (`web.monitor.i18n`).
"""

from __future__ import annotations

from typing import Any, NoReturn

from fastapi import HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from schemas import AccessDenied, GovhubError
from web.monitor.i18n import LABELS, label

__all__ = [
    "PROBLEM_MEDIA_TYPE",
    "FieldProblem",
    "Problem",
    "problem",
    "problem_codes",
    "problem_document",
    "problem_from_error",
    "problem_response",
    "problem_type",
    "raise_problem",
    "split_languages",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"

# The code of an error that names none, by HTTP status.
STATUS_CODES = {
    400: "malformed_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
_CATALOG_STATUS = {"not_found": status.HTTP_404_NOT_FOUND, "conflict": status.HTTP_409_CONFLICT}
_STARLETTE_DETAILS = {"Not Found": "no_route", "Method Not Allowed": "method_not_allowed"}


class FieldProblem(BaseModel):
    """One field at fault: its name as the API spells it, the rule it breaks, and what to do (both languages)."""

    field: str = Field(description="字段 — the member at fault, e.g. `fields[0]`, `subject.id_number`, `limit`")
    rule: str = Field(description="规则 — the rule broken (`missing`, `string_too_long`, `literal_error`, ...)")
    message: str = Field(description="说明 — English, naming the field")
    message_zh: str = Field(description="中文说明 — Chinese, naming the field as the English one does")


class Problem(BaseModel):
    """问题详情 — an error answer (RFC 9457 problem details, `application/problem+json`)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="问题类型 — `/problems/<code>`: a page explaining the problem and what to do")
    title: str = Field(description="标题 — the problem type's short name, Chinese — English")
    status: int = Field(description="HTTP 状态码 — the HTTP status of the answer")
    detail: str = Field(description="详情 — this occurrence: the Chinese message — the English message")
    instance: str = Field(description="实例 — the request path that failed")
    code: str = Field(description="错误代码 — stable, for programs (`/problems/<code>` explains it)")
    message: str = Field(description="说明 — English: what went wrong and what to do")
    message_zh: str = Field(description="中文说明 — Chinese: what went wrong and what to do")
    field: str | None = Field(default=None, description="字段 — the one member at fault, when there is one")
    errors: list[FieldProblem] | None = Field(default=None, description="各字段问题 — every field at fault")


def problem_codes() -> list[str]:
    """Every code with a problem page (the `problem_<code>` entries of the message catalogue)."""
    return sorted(
        key.removeprefix("problem_")
        for key in LABELS
        if key.startswith("problem_") and f"{key}_help" in LABELS and not key.endswith("_help")
    )


def _known(code: str) -> bool:
    return f"problem_{code}_help" in LABELS


def problem_type(code: str) -> str:
    """The stable URI of a problem type (relative to the hub): its page explains it."""
    return f"/problems/{code}"


def problem(
    status_code: int,
    code: str,
    message: str,
    message_zh: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> HTTPException:
    """An HTTP answer carrying one problem (raise it); `extensions` add members such as `current_version`."""
    detail: dict[str, Any] = {"code": code, "message": message, "message_zh": message_zh, **extensions}
    if field is not None:
        detail["field"] = field
    return HTTPException(status_code, detail=detail, headers=headers)


def problem_from_error(error: GovhubError) -> HTTPException:
    """A govhub error as a problem: AccessDenied 403, CatalogError by kind (404/409/422), others 422."""
    from catalog import CatalogError

    message_zh = getattr(error, "message_zh", None) or label("problem_invalid")
    field = getattr(error, "field", None)
    if isinstance(error, AccessDenied):
        return problem(status.HTTP_403_FORBIDDEN, "forbidden", str(error), message_zh, field=field)
    if isinstance(error, CatalogError):
        code = _CATALOG_STATUS.get(error.kind, status.HTTP_422_UNPROCESSABLE_CONTENT)
        return problem(code, error.kind, str(error), message_zh, field=field)
    code_name = getattr(error, "code", None)
    return problem(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        code_name if isinstance(code_name, str) and _known(code_name) else "invalid",
        str(error),
        message_zh,
        field=field,
    )


def raise_problem(error: GovhubError) -> NoReturn:
    """Raise a govhub error as its problem answer (the original error stays the cause)."""
    raise problem_from_error(error) from error


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def split_languages(text: str) -> tuple[str | None, str | None]:
    """(English, Chinese) parts of a message written "English — 中文", "中文 — English" or in one language."""
    parts = [p.strip() for p in text.split(" — ") if p.strip()]
    zh = next((p for p in parts if _has_cjk(p)), None)
    en = next((p for p in parts if not _has_cjk(p)), None)
    return en, zh


def problem_document(
    status_code: int,
    detail: Any,
    instance: str,
    *,
    errors: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The problem document for an error answer, from any detail an `HTTPException` or a service carried."""
    members: dict[str, Any] = {}
    if isinstance(detail, dict):
        members = {k: v for k, v in detail.items() if v is not None or k not in ("field", "errors")}
        en, zh = members.pop("message", None), members.pop("message_zh", None)
        code = members.pop("code", None)
    else:
        code = _STARLETTE_DETAILS.get(str(detail)) if detail is not None else None
        en, zh = split_languages(str(detail)) if detail is not None and code is None else (None, None)
    code = code if isinstance(code, str) and code else STATUS_CODES.get(status_code, "invalid_request")
    known = code if _known(code) else STATUS_CODES.get(status_code, "invalid_request")
    en = en or label(f"problem_{known}", "en")
    zh = zh or label(f"problem_{known}")
    document: dict[str, Any] = {
        "type": problem_type(known),
        "title": f"{label(f'problem_{known}')} — {label(f'problem_{known}', 'en')}",
        "status": status_code,
        "detail": f"{zh} — {en}",
        "instance": instance,
        "code": code,
        "message": en,
        "message_zh": zh,
    }
    for name in ("type", "title", "status", "detail", "instance"):
        members.pop(name, None)  # a service's own members never overwrite the standard ones
    document.update(members)
    if errors:
        document["errors"] = errors
        document.setdefault("field", errors[0]["field"] if len(errors) == 1 else None)
        if document["field"] is None:
            del document["field"]
    return document


def problem_response(status_code: int, document: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    """A problem document as an `application/problem+json` answer."""
    return JSONResponse(document, status_code=status_code, headers=headers, media_type=PROBLEM_MEDIA_TYPE)
