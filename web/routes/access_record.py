"""The access record API (谁查了我的数据) for the city's 政务服务 app, and the person's printable page.

GET /api/access-record[?subject=&kind=person|entity]  Authorization: Bearer <identity assertion>
GET /access-record/print/{token}[?lang=en]            the printable page; the link comes with the record

Only the IdP's assertion for that same subject opens a record (`exchange.access.assertion`): department,
approval-system and admin keys are refused, so no department can look a person up. Every answer is in
the exchange log: a record served (`access_record`), or a refusal (`denial`, with the asked subject's
keyed hash). Assertions that prove nobody (missing, malformed, forged) are counted per address and
window like other requests without a valid credential (`web.refusals`), so they cannot pad the log.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm import Session

from core.errors import SettingsError
from exchange.access import (
    AssertionRefused,
    SubjectKind,
    VerifiedAssertion,
    access_record,
    load_idp_public_key,
    subject_problem,
    verify_assertion,
)
from exchange.access.links import open_link, seal_link
from exchange.log import EventType, ExchangeLog
from exchange.subjects import subject_hash
from govhub.exchange_log import hub_subject_keys
from govhub.hub_secrets import hub_secret
from govhub.settings import get_settings
from web.access_api import AccessRecordPublic, mask_subject, record_public
from web.access_page import render_missing_page, render_record_page
from web.deps import SessionDep
from web.problems import problem_document, problem_response
from web.refusals import CALLER_MISTAKES, claimed_department, refusal_window, too_many

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter(tags=["access record 数据使用记录"])

_PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
_NOBODY = frozenset({"missing_assertion", "malformed_assertion", "bad_signature", "bad_algorithm"})
_KEY_HEADERS = ("x-api-key", "x-client-key", "x-admin-key")
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "身份断言无效 — Missing, malformed, forged, expired or mis-addressed assertion"},
    403: {"description": "无权查询 — A key was sent, or the assertion names another subject"},
    422: {"description": "证件号码无效 — The subject is not a valid ID number or USCC"},
    429: {"description": "请求过多 — Too many requests without a valid assertion"},
    503: {
        "description": "暂不可用 — The identity provider's key is not configured, or the exchange log is unavailable"
    },
}

Subject = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=64,
        description="公民身份号码或统一社会信用代码（可省略：即断言中的主体）— the ID number or USCC; when absent, the "
        "assertion's own subject (keeps the ID out of the address)",
    ),
]
Kind = Annotated[SubjectKind | None, Query(description="person（自然人）或 entity（法人）；可省略")]
Bearer = Annotated[
    str | None,
    Header(alias="Authorization", description="Bearer <政务服务身份断言 — the IdP's signed assertion (JWT, EdDSA)>"),
]


@cache
def _idp_key(pem: str) -> Ed25519PublicKey:
    return load_idp_public_key(pem)


def _link_secret() -> bytes:
    settings = get_settings()
    return hub_secret("access-link", home=settings.resolved_home, keys_dir=settings.keys_dir)


def _refusal(request: Request, status: int, code: str, message: str, message_zh: str) -> JSONResponse:
    """A refusal as an RFC 9457 problem document (`web.problems`), never cached."""
    headers = {"Cache-Control": "no-store"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="govhub-access-record"'
    detail = {"code": code, "message": message, "message_zh": message_zh}
    return problem_response(status, problem_document(status, detail, request.url.path), headers=headers)


def _hash(subject: str) -> str | None:
    value = subject.strip().upper()
    return subject_hash([value], keys=hub_subject_keys()) if value and len(value) <= 64 else None


def _log(session: Session, *, kind: EventType, subject: str | None, **fields: Any) -> bool:
    """One event about an access-record request, committed; False when the log could not be written (a record
    is then withheld, as a verification answer is; a refusal stands all the same)."""
    try:
        ExchangeLog(session).append(
            kind, source="zwfw-app", target="govhub", subject_hash=_hash(subject) if subject else None, **fields
        )
        session.commit()
    except Exception:
        session.rollback()
        log.exception("an access-record request could not be written to the exchange log")
        return False
    return True


def _refuse(
    request: Request,
    session: Session,
    *,
    subject: str | None,
    kind: str | None,
    error: AssertionRefused,
    department: str | None,
) -> JSONResponse:
    """Log the refusal (aggregated when the assertion proves nobody) and answer it (429 past the limit)."""
    if error.code in _NOBODY:
        allowed = refusal_window(request.app).note(
            request.client.host if request.client else None,
            code=error.code,
            status=error.status,
            path=request.url.path,
        )
        if not allowed:
            return too_many(refusal_window(request.app), request.url.path)
    else:
        details = {"path": request.url.path, "status": error.status, "kind": (kind or "")[:8]}
        if department is None and claimed_department(request.headers.get("x-api-key")):
            details["claimed_department"] = claimed_department(request.headers.get("x-api-key"))
        mistake = error.status in CALLER_MISTAKES  # a malformed ID: the caller's mistake, not a denial
        _log(
            session,
            kind=EventType.CLIENT_ERROR if mistake else EventType.DENIAL,
            subject=subject,
            outcome="invalid" if mistake else "denied",
            error_code=error.code,
            department=department,
            details=details,
        )
    return _refusal(request, error.status, error.code, str(error), error.message_zh)


def _key_refusal(request: Request, session: Session) -> tuple[AssertionRefused, str | None] | None:
    """A department, approval-system or admin key on this route: refused, naming the department when the key is its."""
    sent = [h for h in _KEY_HEADERS if request.headers.get(h)]
    if not sent:
        return None
    from catalog import authenticate

    department = authenticate(session, request.headers.get("x-api-key") or "") if "x-api-key" in sent else None
    return (
        AssertionRefused(
            "key_not_accepted",
            "department, approval-system and admin keys cannot read a person's access record: only the person, "
            "signed in through the 政务服务 app, can (send its identity assertion as Authorization: Bearer)",
            "部门、审批系统和管理员密钥不能查询个人的数据使用记录：只有本人通过政务服务应用登录后才能查询",
            status=403,
        ),
        department.code if department is not None else None,
    )


def _authenticate(authorization: str | None, subject: str | None, kind: str | None) -> VerifiedAssertion:
    """The assertion of the Authorization header, checked, and for the subject asked (when one is); `AssertionRefused`
    otherwise."""
    settings = get_settings()
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AssertionRefused(
            "missing_assertion",
            "send the 政务服务 app's identity assertion as 'Authorization: Bearer <assertion>'",
            "请在请求头 Authorization: Bearer 中提供政务服务应用的身份断言",
        )
    try:
        pem = settings.idp_public_key_pem
    except SettingsError as e:
        log.error("the identity provider's key cannot be used: %s", e)
        raise AssertionRefused(
            "idp_not_configured",
            f"the hub's identity-provider key is not usable ({e.variable}): fix it and restart",
            "平台的身份认证平台公钥配置有误，请联系平台管理员",
            status=503,
        ) from e
    if pem is None:
        raise AssertionRefused(
            "idp_not_configured",
            "the hub has no identity-provider key: set GOVHUB_IDP_PUBLIC_KEY (or its file) and restart",
            "平台尚未配置身份认证平台公钥（GOVHUB_IDP_PUBLIC_KEY），请联系平台管理员",
            status=503,
        )
    verified = verify_assertion(
        token.strip(), public_key=_idp_key(pem), audience=settings.idp_audience, issuer=settings.idp_issuer
    )
    other = subject is not None and verified.subject != subject.strip().upper()
    if other or (kind is not None and verified.kind != kind):
        raise AssertionRefused(
            "subject_mismatch",
            "the assertion authenticates another subject than the one asked for: a person may read only their "
            "own record",
            "身份断言与所查询的证件号码不一致：只能查询本人（本单位）的数据使用记录",
            status=403,
        )
    return verified


@router.get(
    "/api/access-record",
    summary="本人数据使用记录 — one's own access record (who used my data)",
    description="For the city's 政务服务 app: every verification answer about the person (or entity) and every "
    "delivery of their record, with who, when and for what purpose. Authenticated by the app's identity "
    "assertion for that same subject (JWT signed with EdDSA by its IdP); keys are refused. See README.md.",
    responses={200: {"model": AccessRecordPublic, "description": "本人数据使用记录 — the access record"}, **_ERRORS},
)
def read_access_record(
    request: Request, session: SessionDep, authorization: Bearer = None, subject: Subject = None, kind: Kind = None
) -> Response:
    refused = _key_refusal(request, session)
    if refused is not None:
        return _refuse(request, session, subject=subject, kind=kind, error=refused[0], department=refused[1])
    try:
        verified = _authenticate(authorization, subject, kind)
    except AssertionRefused as e:
        return _refuse(request, session, subject=subject, kind=kind, error=e, department=None)
    problem = subject_problem(verified.subject, verified.kind)
    if problem is not None:
        what = "ID number (GB 11643)" if verified.kind == "person" else "unified social credit code (GB 32100)"
        error = AssertionRefused(
            "invalid_subject",
            f"subject is not a valid {what}: {problem}",
            "证件号码无效（身份证号须符合 GB 11643，统一社会信用代码须符合 GB 32100）",
            status=422,
        )
        return _refuse(request, session, subject=verified.subject, kind=verified.kind, error=error, department=None)
    record = access_record(session, verified.subject, kind=verified.kind, keys=hub_subject_keys())
    token = seal_link(_link_secret(), verified.subject, verified.kind)
    path = f"/access-record/print/{token}"
    logged = _log(
        session,
        kind=EventType.ACCESS_RECORD,
        subject=verified.subject,
        rows=len(record.queries) + len(record.deliveries),
        details={"via": "api", "kind": verified.kind, "assertion": (verified.token_id or "")[:64]},
    )
    if not logged:
        return _refusal(
            request,
            503,
            "log_unavailable",
            "the exchange log is unavailable, so the record is not served; try again later",
            "交换日志暂不可用，暂不能提供数据使用记录，请稍后再试",
        )
    body = record_public(record, subject=verified.subject, print_path=path).model_dump(mode="json")
    headers = {"Link": f'<{path}>; rel="alternate"; type="text/html"', "Cache-Control": "no-store"}
    return JSONResponse(body, headers=headers)


@router.get("/access-record/print/{token}", response_class=HTMLResponse, include_in_schema=False)
def print_access_record(
    token: str, request: Request, session: SessionDep, lang: Literal["zh", "en"] = "zh"
) -> HTMLResponse:
    """The person's printable record, through the link served with it (valid for half an hour)."""
    linked = open_link(_link_secret(), token)
    if linked is None:
        return render_missing_page(request, lang=lang, headers=_PAGE_HEADERS)
    record = access_record(session, linked.subject, kind=linked.kind, keys=hub_subject_keys())
    logged = _log(
        session,
        kind=EventType.ACCESS_RECORD,
        subject=linked.subject,
        rows=len(record.queries) + len(record.deliveries),
        details={"via": "page", "kind": linked.kind},
    )
    if not logged:
        return render_missing_page(request, lang=lang, headers=_PAGE_HEADERS, unavailable=True)
    return render_record_page(request, record, masked=mask_subject(linked.subject), lang=lang, headers=_PAGE_HEADERS)
