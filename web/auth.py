"""Department authentication (header `X-API-Key`) and the mapping of govhub errors to HTTP answers.

Keys are issued by `govhub catalog issue-key` and stored as salted scrypt hashes; a missing,
malformed, forged or revoked key, or an inactive department, gets 401 with a bilingual message.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.security import APIKeyHeader

from catalog import AdminKey, Department, authenticate, authenticate_admin
from schemas import GovhubError
from web.deps import SessionDep
from web.problems import problem, problem_from_error

__all__ = [
    "ADMIN_KEY_HEADER",
    "ADMIN_KEY_SCHEME",
    "API_KEY_HEADER",
    "CurrentAdmin",
    "CurrentDepartment",
    "DepartmentOrAdmin",
    "current_admin",
    "current_department",
    "department_or_admin",
    "error_body",
    "http_error",
]

API_KEY_HEADER = "X-API-Key"
_api_key = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    scheme_name="DepartmentApiKey",
    description="部门 API 密钥 — the department's API key (issued by `govhub catalog issue-key`).",
)
ADMIN_KEY_HEADER = "X-Admin-Key"
_admin_key = APIKeyHeader(
    name=ADMIN_KEY_HEADER,
    auto_error=False,
    scheme_name="AdminApiKey",
    description="共享主管部门（平台管理员）API 密钥 — the sharing authority's key (`govhub admin issue-key NAME`).",
)
ADMIN_KEY_SCHEME = _admin_key  # for routes that accept the authority's key beside another caller's


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


def current_admin(
    request: Request,
    session: SessionDep,
    admin_key: Annotated[str | None, Security(_admin_key)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> AdminKey:
    """The sharing authority's key calling; a valid department key is refused (403), no valid admin key
    (a forged department key included) is 401."""
    department = authenticate(session, api_key) if not admin_key and api_key else None
    if department is not None:
        request.state.department = department.code  # the refusal is logged naming the department
        raise problem(
            status.HTTP_403_FORBIDDEN,
            "forbidden",
            f"only the sharing authority decides disputes: call with its {ADMIN_KEY_HEADER}, not a department key",
            f"只有共享主管部门（平台管理员）可以处理共享争议，部门密钥无权操作（请使用 {ADMIN_KEY_HEADER}）",
        )
    key = authenticate_admin(session, admin_key) if admin_key else None
    if key is None:
        raise problem(
            status.HTTP_401_UNAUTHORIZED,
            "unauthenticated",
            f"missing or invalid {ADMIN_KEY_HEADER} (unknown, revoked or malformed): "
            "issue one with `govhub admin issue-key NAME`",
            f"缺少或无效的管理员密钥（请求头 {ADMIN_KEY_HEADER}），可用 govhub admin issue-key 签发",
            headers={"WWW-Authenticate": "ApiKey"},
        )
    request.state.admin = key.name
    return key


CurrentAdmin = Annotated[AdminKey, Depends(current_admin)]


def department_or_admin(
    request: Request,
    session: SessionDep,
    admin_key: Annotated[str | None, Security(_admin_key)],
    api_key: Annotated[str | None, Security(_api_key)],
) -> Department | AdminKey:
    """The sharing authority when an `X-Admin-Key` is sent (it must be valid), else the department of `X-API-Key`."""
    if admin_key:
        return current_admin(request, session, admin_key, None)
    return current_department(request, session, api_key)


DepartmentOrAdmin = Annotated[Department | AdminKey, Depends(department_or_admin)]


def http_error(error: GovhubError) -> HTTPException:
    """A govhub error as a problem answer: `web.problems.problem_from_error`, kept under its older name."""
    return problem_from_error(error)
