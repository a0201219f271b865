"""Verification API for approval systems, the counter page (窗口办) and the public seal check page.

POST /api/verify/{item}           one subject -> one sealed answer (header X-Client-Key)
POST /api/verify/{item}/batch     up to 100 subjects -> one sealed answer holding every result
GET  /api/verify/items            the catalogue;  GET /api/verify/public-key  the seal key
GET  /api/verify/answers/{id}     a sealed answer issued earlier (JSON; only with the asking client's key)
POST /api/check                   check a sealed answer (JSON in, {ok, reason, message} out)
GET  /verify/answer/{id}/{token}  printable page naming the issuing body, with the check address and a QR
                                  code linking to the check page with the seal (?lang=en); the link, with its
                                  unguessable token, comes in the answer's `Link` header
GET|POST /check                   public page: paste the sealed JSON, or open `?answer=<base64url of it>` (the
                                  printed QR code) -> verified or not
All the work is in `exchange.verify.VerificationService`; these handlers only translate HTTP.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Form, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.requests import ClientDisconnect

from core.time import BEIJING
from exchange.verify import VerificationService
from schemas import load_all
from web.monitor.i18n import label, texts
from web.problems import PROBLEM_MEDIA_TYPE, problem_document
from web.refusals import refusal_window
from web.verify_models import (
    CheckResult,
    PublicKey,
    SealedAnswerPublic,
    VerificationItemPublic,
    VerificationItemsPublic,
)

__all__ = ["get_verification_service", "router"]

router = APIRouter(tags=["verification 数据核验"])
_templates = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
_MAX_BODY = 1024 * 1024


@cache
def _service_for(home: str, keys_dir: str, db_url: str, algorithm: str, rate_limits: str) -> VerificationService:
    from exchange.crypto import load_or_create_signer
    from exchange.verify import RateLimiter, ServingStore
    from govhub.db import engine_for
    from govhub.exchange_log import hub_subject_keys
    from govhub.hub_secrets import hub_secret

    root, keys = Path(home), Path(keys_dir)
    signer = load_or_create_signer(keys, algorithm=algorithm)  # type: ignore[arg-type]
    return VerificationService(
        store=ServingStore(root),
        signer=signer,
        engine=engine_for(db_url),
        link_secret=hub_secret("answer-link", home=root, keys_dir=keys),
        subject_keys=hub_subject_keys(),
        limiter=RateLimiter(rate_limits),
    )


def get_verification_service() -> VerificationService:
    """The process's service: serving stores under GOVHUB_HOME, the hub key of GOVHUB_SEAL_ALGORITHM in
    GOVHUB_KEYS_DIR, the metadata DB, per-client limits counted where GOVHUB_RATE_LIMIT_STORAGE says."""
    from govhub.settings import get_settings

    settings = get_settings()
    return _service_for(
        str(settings.resolved_home),
        str(settings.keys_dir),
        settings.metadata_url,
        settings.seal_algorithm,
        settings.rate_limit_storage,
    )


ServiceDep = Annotated[VerificationService, Depends(get_verification_service)]
_ASK_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "缺少或无效的客户端密钥 — Missing or invalid X-Client-Key"},
    403: {"description": "事项未授权 — The item is not granted to this client"},
    404: {"description": "事项或对象不存在 — Unknown item, or no record of the subject"},
    422: {"description": "请求无效 — Malformed, oversized or invalid request"},
    429: {"description": "超过频率限制 — Rate limit exceeded; see Retry-After"},
    503: {"description": "暂不可用 — Serving store or exchange log unavailable"},
}
_NO_ANSWER: dict[int | str, dict[str, Any]] = {  # a page's own "no such answer" page, for a person at a browser
    404: {"description": "凭证不存在（页面） — No such answer (a page)", "content": {"text/html": {}}}
}
_ANSWER_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "缺少或无效的客户端密钥 — Missing or invalid X-Client-Key"},
    404: {"description": "凭证不存在 — No answer with this id for this client"},
}
_PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
ClientKey = Annotated[str | None, Header(alias="X-Client-Key", description="审批系统密钥 — the client key")]


def _body(model: str) -> dict[str, Any]:
    """The hot routes read header and body themselves; the spec still shows both (models in web.verify_models)."""
    return {
        "parameters": _CLIENT_KEY_PARAMETER,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
        },
    }


_CLIENT_KEY_PARAMETER: list[dict[str, Any]] = [
    {
        "name": "X-Client-Key",
        "in": "header",
        "required": False,
        "description": "审批系统密钥 — the client key",
        "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "X-Client-Key"},
    },
]
_SEALED: dict[int | str, dict[str, Any]] = {
    200: {
        "model": SealedAnswerPublic,
        "description": "电子核验凭证 — the sealed answer; its printable page is in the `Link` header",
    }
}


def _json(status: int, document: Any, headers: dict[str, str] | None = None, *, instance: str = "") -> Response:
    """The service's answer: the sealed document as it is, a refusal as a problem (`web.problems`)."""
    media_type = "application/json"
    if status >= 400:
        document = problem_document(status, document.get("error") if isinstance(document, dict) else None, instance)
        media_type = PROBLEM_MEDIA_TYPE
    body = orjson.dumps(document)  # UTF-8, compact, as json.dumps(ensure_ascii=False) but ~10x faster
    if status == 429:
        headers = {**(headers or {}), "Retry-After": "60"}
    return Response(body, status_code=status, media_type=media_type, headers=headers)


def _page_link(service: VerificationService, status: int, document: Any) -> dict[str, str] | None:
    """`Link` to the printable page of an answer (its path carries the unguessable token)."""
    answer_id = document.get("answer", {}).get("answer_id") if status == 200 else None
    if not isinstance(answer_id, str):
        return None
    path = f"/verify/answer/{answer_id}/{service.answer_page_token(answer_id)}"
    return {"Link": f'<{path}>; rel="alternate"; type="text/html"'}


async def _bounded(request: Request) -> bytes:
    """The body, read no further than `_MAX_BODY` + 1 bytes (a chunked body declares no length)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > _MAX_BODY:
            break
    return b"".join(chunks)


def _service(request: Request) -> VerificationService:
    """The app's service, honouring `dependency_overrides` like `Depends` would (without its per-request cost)."""
    provider = request.app.dependency_overrides.get(get_verification_service, get_verification_service)
    return provider()


async def _ask(item: str, request: Request, *, batch: bool) -> Response:
    """The hot path: no dependency solving, orjson out; the service runs on a worker thread (see bench/README.md
    for why answering on the event loop itself measured slower: the log writer waits for the GIL)."""
    service = _service(request)
    length = request.headers.get("content-length")
    declared_too_large = length is not None and length.isdigit() and int(length) > _MAX_BODY
    try:
        body = b"\0" * (_MAX_BODY + 1) if declared_too_large else await _bounded(request)
    except ClientDisconnect:  # gone before its question arrived: nothing was asked, nothing to answer or log
        return Response(status_code=400)
    key = request.headers.get("x-client-key")
    window = refusal_window(request.app)
    address = request.client.host if request.client else None

    def unauthenticated(code: str) -> bool:  # requests without a valid key: aggregated per address and window
        return window.note(address, code=code, status=401, path=request.url.path, key=key)

    status, document = await run_in_threadpool(
        service.ask,
        item,
        client_key=key,
        body=body,
        batch=batch,
        on_unauthenticated=unauthenticated,
        address=address,
    )
    return _json(status, document, _page_link(service, status, document), instance=request.url.path)


@router.get(
    "/api/verify/items",
    summary="核验事项目录 — list the verification items",
    description="What each item asks, which proofs it replaces, what it reads and what it discloses.",
)
def list_items(service: ServiceDep) -> VerificationItemsPublic:
    data = [VerificationItemPublic(**entry) for entry in service.catalogue()]
    return VerificationItemsPublic(data=data, count=len(data))


@router.get(
    "/api/verify/public-key",
    summary="签章公钥 — the hub's seal key",
    description="The hub's seal key (PEM, key id, algorithm): check sealed answers offline with it.",
)
def public_key(service: ServiceDep) -> PublicKey:
    return PublicKey(**service.public_key())


@router.post(
    "/api/verify/{item}",
    summary="核验 — verify a fact about one subject",
    description="Ask one verification question; body {case_number, purpose, subject, params} -> a sealed answer "
    "(header X-Client-Key). A refusal is a problem document whose `code` the approval system can act on.",
    responses={**_SEALED, **_ASK_ERRORS},
    openapi_extra=_body("VerifyRequest"),
)
async def verify_one(item: str, request: Request) -> Response:
    return await _ask(item, request, batch=False)


@router.post(
    "/api/verify/{item}/batch",
    summary="批量核验 — verify up to 100 subjects at once",
    description="Ask about up to 100 subjects; body {case_number, purpose, subjects: [...], params} -> one sealed "
    "answer holding every result.",
    responses={**_SEALED, **_ASK_ERRORS},
    openapi_extra=_body("VerifyBatchRequest"),
)
async def verify_batch(item: str, request: Request) -> Response:
    return await _ask(item, request, batch=True)


@router.get(
    "/api/verify/answers/{answer_id}",
    summary="取回核验凭证 — read back a sealed answer",
    description="A sealed answer issued earlier to the client whose key is sent, exactly as sealed (404 otherwise).",
    responses={**_SEALED, **_ANSWER_ERRORS},
)
def answer_json(answer_id: str, request: Request, service: ServiceDep, x_client_key: ClientKey = None) -> Response:
    """A sealed answer issued earlier to the client whose key is sent, exactly as sealed (404 otherwise)."""
    address = request.client.host if request.client else None
    status, document = service.answer_for_client(answer_id, client_key=x_client_key, address=address)
    return _json(status, document, _page_link(service, status, document), instance=request.url.path)


@router.post(
    "/api/check",
    summary="验证凭证 — check a sealed answer",
    description='Check a sealed answer with the hub\'s key: body = the sealed JSON, or {"document": ..., '
    '"request": ...} to check also that it answers that request.',
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CheckRequest"}}},
        }
    },
)
async def check_api(request: Request, service: ServiceDep) -> CheckResult:
    raw = await request.body()
    request_obj = None
    try:
        parsed = json.loads(raw)
        if isinstance(parsed, dict) and "document" in parsed:
            raw, request_obj = parsed["document"], parsed.get("request")
    except (ValueError, RecursionError):  # not JSON, or nested too deep: the check says "malformed"
        pass
    result = service.check(raw, request=request_obj)
    return CheckResult(ok=result.ok, reason=result.reason, message=result.message)


# -- pages --------------------------------------------------------------------------------------------

_TEXT = {lang: texts("verify_", lang) for lang in ("zh", "en")}  # from the one catalogue


def public_base(request: Request) -> str:
    """The hub's address as people reach it: GOVHUB_PUBLIC_BASE_URL, else the address the request came to."""
    from govhub.settings import get_settings

    return get_settings().public_base_url or str(request.base_url).rstrip("/")


def check_link(base: str, document: dict[str, Any]) -> str:
    """The check page carrying the sealed answer: `<base>/check?answer=<base64url of its canonical JSON>`."""
    from exchange.crypto import canonical_json

    packed = base64.urlsafe_b64encode(canonical_json(document)).rstrip(b"=").decode("ascii")
    return f"{base}/check?answer={packed}"


def _unpacked(answer: str) -> str:
    """The sealed JSON a check link carries (base64url, padding optional); "" when it is not base64url."""
    try:
        return base64.urlsafe_b64decode(answer + "=" * (-len(answer) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        return ""


def _qr_svg(data: bytes) -> str | None:
    """`data` (the check link) as an inline SVG QR code (qrcode package, no image library needed); None when
    it is beyond a QR code's 2,953 bytes (a large batch answer with a long inclusion proof)."""
    import qrcode
    import qrcode.exceptions
    import qrcode.image.svg

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_L, box_size=4, border=2)
    qr.add_data(data)
    try:
        qr.make(fit=True)
    except (qrcode.exceptions.DataOverflowError, ValueError):  # ValueError: "Invalid version (was 41...)"
        return None
    return qr.make_image(image_factory=qrcode.image.svg.SvgPathImage).to_string(encoding="unicode")


def _rows(service: VerificationService, document: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """(label, value) lines of the answer: the predicate, or the returned fields with contract labels."""
    t = _TEXT[lang]
    item = service.items.get(document["item"])
    answer = document["answer"]
    if "match" in answer:
        return [(t["result"], t["yes"] if answer["match"] else t["no"])]
    if "results" in answer:
        return [(f"#{i + 1}", t["yes"] if r.get("match") else t["no"]) for i, r in enumerate(answer["results"])]
    contract = load_all().get(item.resource) if item else None
    rows = []
    for name, value in answer.items():
        if name in ("answer_id", "case_number"):
            continue
        label = name
        if contract is not None and name in contract.field_names:
            field = contract.field(name)
            label = field.label if lang == "zh" else field.label_en
        rows.append((label, str(value)))
    return rows


def _beijing(issued_at: str) -> str:
    moment = datetime.fromisoformat(issued_at.replace("Z", "+00:00")).astimezone(BEIJING)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@router.get(
    "/verify/answer/{answer_id}/{token}",
    response_class=HTMLResponse,
    responses=_NO_ANSWER,
    summary="核验凭证页 — the printable page of a sealed answer",
)
def answer_page(
    answer_id: str, token: str, request: Request, service: ServiceDep, lang: Literal["zh", "en"] = "zh"
) -> HTMLResponse:
    """A printable page of a sealed answer (窗口办): the issuing body, the check address, and a QR code linking to
    the check page with the whole seal, so a phone's camera opens the verdict.

    Reached only through the link handed to the asking client (the token is an HMAC of the answer id
    under a hub secret); it shows what the printed proof shows and nothing more.
    """
    from govhub.settings import get_settings

    document = service.answer_for_page(answer_id, token)
    t = _TEXT[lang]
    if document is None:
        return _templates.TemplateResponse(
            request,
            "verify_answer.html",
            {"t": t, "lang": lang, "missing": True},
            status_code=404,
            headers=_PAGE_HEADERS,
        )
    item = service.items.get(document["item"])
    contract = load_all().get(item.resource) if item else None
    context = {
        "t": t,
        "lang": lang,
        "missing": False,
        "doc": document,
        "item_name": (item.name if lang == "zh" else item.name_en) if item else document["item"],
        "replaces": "、".join(item.replaces) if item else "",
        "basis": list(item.legal_basis) if item else [],
        "dataset": (contract.title if lang == "zh" else contract.title_en) if contract else "",
        "rows": _rows(service, document, lang),
        "issued": _beijing(document["issued_at"]),
        "qr": _qr_svg(check_link(public_base(request), document).encode("ascii")),
        "issuer": get_settings().issuer_name if lang == "zh" else get_settings().issuer_name_en,
        "check_url": f"{public_base(request)}/check",
        "other_lang": "en" if lang == "zh" else "zh",
        "printed_at": datetime.now(UTC).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M"),
    }
    return _templates.TemplateResponse(request, "verify_answer.html", context, headers=_PAGE_HEADERS)


@router.get("/check", response_class=HTMLResponse, summary="凭证验证页 — the public check page")
def check_page(
    request: Request,
    service: ServiceDep,
    lang: Literal["zh", "en"] = "zh",
    answer: Annotated[str | None, Query(max_length=30_000, description="base64url of the sealed JSON")] = None,
) -> HTMLResponse:
    """The public check page (no login): paste a sealed answer, or open the printed QR code's link, which
    carries it (`?answer=`) and is checked at once."""
    if answer is not None:
        return _checked(request, service, _unpacked(answer.strip()), lang, link=answer.strip())
    return _templates.TemplateResponse(
        request, "check_page.html", {"t": _TEXT[lang], "lang": lang, "result": None, "text": ""}
    )


@router.post("/check", response_class=HTMLResponse, summary="验证凭证（页面） — check a pasted sealed answer")
def check_submit(
    request: Request,
    service: ServiceDep,
    document: Annotated[str, Form(max_length=20_000)],
    lang: Literal["zh", "en"] = "zh",
) -> HTMLResponse:
    """Verify the pasted sealed answer with the hub's public key and say why it passes or fails."""
    return _checked(request, service, document, lang)


def _checked(
    request: Request, service: VerificationService, document: str, lang: Literal["zh", "en"], link: str = ""
) -> HTMLResponse:
    """The check page with the verdict on `document` (the sealed JSON text); `link`: the `?answer=` it came in."""
    result = service.check(document.strip())
    doc = result.document if result.ok else None
    item = service.items.get(doc["item"]) if doc else None
    issued = _beijing(doc["issued_at"]) if doc else ""
    item_name = ((item.name if lang == "zh" else item.name_en) if item else doc["item"]) if doc else ""
    reason: str
    if lang == "en":  # the checker's own words
        reason, message = result.reason or "", result.message
    elif result.ok:
        reason, message = "", label("verify_valid", "zh", item=item_name, version=doc["version"], issued=issued)  # type: ignore[index]
    else:
        reason, message = label(f"verify_reason_{result.reason}"), label(f"verify_why_{result.reason}")
    return _templates.TemplateResponse(
        request,
        "check_page.html",
        {
            "t": _TEXT[lang],
            "lang": lang,
            "result": result,
            "text": document,
            "rows": _rows(service, doc, lang) if doc else [],
            "doc": doc,
            "issued": issued,
            "item_name": item_name,
            "reason": reason,
            "message": message,
            "answer": link,
        },
    )
