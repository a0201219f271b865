"""The verification API's request and answer shapes, for its OpenAPI document and its lighter routes.

The hot routes (`POST /api/verify/{item}`, `.../batch`) read and answer raw JSON for speed (see
`web.routes.verify`); these models describe what they read and seal, they never re-validate it. The
sealed answer is a contract approval systems keep (`exchange.seal`): these models only document it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "CheckRequest",
    "CheckResult",
    "PublicKey",
    "SealPublic",
    "SealedAnswerPublic",
    "VerificationItemPublic",
    "VerificationItemsPublic",
    "VerifyBatchRequest",
    "VerifyRequest",
]


class VerifyRequest(BaseModel):
    """核验请求 — one verification question about one subject."""

    case_number: str = Field(max_length=64, description="办件编号 — the approval system's case number")
    purpose: str = Field(max_length=200, description="用途 — why the question is asked")
    subject: dict[str, Any] = Field(
        description='核验对象 — the item\'s subject fields, e.g. {"id_number": ..., "name": ...} '
        "(GET /api/verify/items lists them)"
    )
    params: dict[str, Any] | None = Field(default=None, description="参数 — the item's parameters, if it takes any")


class VerifyBatchRequest(BaseModel):
    """批量核验请求 — one question about up to 100 subjects, answered by one sealed answer."""

    case_number: str = Field(max_length=64, description="办件编号 — the approval system's case number")
    purpose: str = Field(max_length=200, description="用途 — why the question is asked")
    subjects: list[dict[str, Any]] = Field(
        min_length=1, max_length=100, description="核验对象列表 — up to 100 subjects, each as `subject`"
    )
    params: dict[str, Any] | None = Field(default=None, description="参数 — the item's parameters, if it takes any")


class SealPublic(BaseModel):
    """电子签章 — the seal of an answer (`govhub-seal/2`: a Merkle audit path and one signature over the root)."""

    format: str = Field(description="签章格式 — `govhub-seal/2` (answers in `govhub-seal/1` still verify)")
    algorithm: Literal["sm2", "ed25519"] = Field(description="算法 — sm2 (SM2/SM3) or ed25519")
    key_id: str = Field(description="密钥标识 — 16 hex digits of the hub's seal key (GET /api/verify/public-key)")
    tree_size: int = Field(description="树大小 — answers sealed together")
    leaf_index: int = Field(description="叶序号 — this answer's place among them")
    path: list[str] = Field(description="审计路径 — the Merkle audit path (64 hex each)")
    root: str = Field(description="根哈希 — the signed Merkle root (64 hex)")
    signature: str = Field(description="签名 — base64 signature over the canonical seal header")


class SealedAnswerPublic(BaseModel):
    """电子核验凭证 — a sealed answer, bound to the question asked and checkable offline with the hub's key."""

    answer: dict[str, Any] = Field(
        description="核验结果 — `answer_id`, `case_number` and `match` (yes/no items), the returned fields, or "
        "`results` (one per subject of a batch)"
    )
    item: str = Field(description="核验事项 — the item asked")
    version: int = Field(description="数据版本 — the dataset version the answer was read from")
    issued_at: str = Field(description="出具时间 — UTC with milliseconds, as sealed")
    request_hash: str = Field(description="请求摘要 — SM3 or SHA-256 of the canonical request (64 hex)")
    seal: SealPublic


class VerificationItemPublic(BaseModel):
    """核验事项 — one question the hub answers: what it asks, replaces, reads and discloses."""

    code: str = Field(description="事项代码 — used in the URL")
    name: str = Field(description="事项名称 — Chinese name")
    name_en: str
    replaces: list[str] = Field(description="替代证明材料 — the proofs a citizen no longer brings")
    legal_basis: list[str] = Field(description="法律依据 — the laws and policies it rests on")
    resource: str = Field(description="数据来源 — the resource read")
    subject: list[str] = Field(description="核验对象字段 — the subject fields asked")
    params: list[dict[str, Any]] = Field(description="参数 — name, type, required, label, bounds")
    discloses: list[str] = Field(description="披露内容 — `match` only, or the fields returned")
    unknown_subject: str = Field(description="无记录时 — `sealed false` or `404 subject_not_found`")


class VerificationItemsPublic(BaseModel):
    """核验事项目录 — every item."""

    data: list[VerificationItemPublic]
    count: int


class PublicKey(BaseModel):
    """签章公钥 — the hub's seal key: check sealed answers offline with it."""

    algorithm: str = Field(description="算法 — sm2 or ed25519")
    key_id: str = Field(description="密钥标识 — as in each seal's `key_id`")
    public_key_pem: str = Field(description="公钥 — PEM")


class CheckRequest(BaseModel):
    """验证凭证请求 — a sealed answer and, to check that it answers this request, the request itself.

    The body may also be the sealed answer alone.
    """

    document: SealedAnswerPublic | str = Field(description="凭证 — the sealed answer (JSON or its text)")
    request: dict[str, Any] | None = Field(default=None, description="原请求 — the body that was posted, if kept")


class CheckResult(BaseModel):
    """验证结果 — whether a sealed answer is the hub's, unchanged, and (given the request) for that request."""

    ok: bool = Field(description="是否通过 — true when every check passes")
    reason: Literal["signature", "key_id", "request_hash", "malformed"] | None = Field(
        description="原因 — the first check failed (null when ok)"
    )
    message: str = Field(description="说明 — what was found, in English (the check page says it in Chinese)")
