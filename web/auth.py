"""Department authentication (header `X-API-Key`) and the mapping of govhub errors to HTTP answers.

Keys are issued by `govhub catalog issue-key` and stored as salted scrypt hashes; a missing,
malformed, forged or revoked key, or an inactive department, gets 401 with a bilingual message.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from catalog import Department, authenticate
from schemas import GovhubError
from web.deps import SessionDep
from web.problems import problem, problem_from_error

__all__ = ["API_KEY_HEADER", "CurrentDepartment", "current_department", "error_body", "http_error"]

API_KEY_HEADER = "X-API-Key"
_api_key = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    scheme_name="DepartmentApiKey",
    description="部门 API 密钥 — the department's API key (issued by `govhub catalog issue-key`).",
)


def error_body(code: str, message: str, message_zh: str, **extra: Any) -> dict[str, Any]:
    """The members of a problem: a code, an English and a Chinese message, extensions (prefer `web.problems`)."""
    return {"code": code, "message": message, "message_zh": message_zh, **extra}


def current_department(
    request: Request, session: SessionDep, api_key: Annotated[str | None, Security(_api_key)]
) -> Department:
    """The department calling, from its API key; 401 when there is no valid key (logged by `web.refusals`)."""
    if not api_key:
        raise problem(
            status.HTTP_401_UNAUTHORIZED,
            "unauthenticated",
            f"missing {API_KEY_HEADER} header: call as a department with its API key",
            "缺少部门 API 密钥（请求头 X-API-Key）：请以本部门的 API 密钥调用",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    department = authenticate(session, api_key)
    if department is None:
        raise problem(
            status.HTTP_401_UNAUTHORIZED,
            "unauthenticated",
            "the API key is not valid (unknown, revoked, or the department is inactive)",
            "API 密钥无效（未知、已作废或部门已停用）",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    request.state.department = department.code  # names the caller in the log of a later refusal
    return department


CurrentDepartment = Annotated[Department, Depends(current_department)]


def http_error(error: GovhubError) -> HTTPException:
    """A govhub error as a problem answer: `web.problems.problem_from_error`, kept under its older name."""
    return problem_from_error(error)
