"""The identity assertion of the city's 政务服务 app: a JWT (RFC 7519) signed by its identity provider with
Ed25519 (JWS `alg: EdDSA`, RFC 8037), naming the person or entity it authenticated.

Claims: `sub` (the ID number or unified social credit code), `sub_kind` (`person` | `entity`), `aud`
(the hub's audience, `GOVHUB_IDP_AUDIENCE`), `iat`, `exp` (at most `MAX_LIFETIME` after `iat`), optional
`iss` (checked when `GOVHUB_IDP_ISSUER` is set) and `jti`. Only EdDSA is accepted (no `none`, no HMAC
with the public key as secret: the algorithm-confusion attacks), with the IdP's public key only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from core.errors import GovhubError

__all__ = [
    "LEEWAY_SECONDS",
    "MAX_LIFETIME",
    "SUBJECT_KINDS",
    "AssertionRefused",
    "SubjectKind",
    "VerifiedAssertion",
    "load_idp_public_key",
    "verify_assertion",
]

SubjectKind = Literal["person", "entity"]
SUBJECT_KINDS: tuple[SubjectKind, ...] = ("person", "entity")
LEEWAY_SECONDS = 30  # clock skew tolerated between the IdP and the hub
MAX_LIFETIME = 3600  # an assertion valid for longer than an hour is refused: it is a login, not a pass
_MAX_TOKEN = 4096


class AssertionRefused(GovhubError):
    """The assertion does not authenticate the caller: `code` names why, `status` the HTTP answer."""

    def __init__(self, code: str, message: str, message_zh: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.code, self.message_zh, self.status = code, message_zh, status


@dataclass(frozen=True)
class VerifiedAssertion:
    """Who the IdP says the caller is, after signature, audience and time checks."""

    subject: str
    kind: SubjectKind
    issued_at: datetime
    expires_at: datetime
    issuer: str | None = None
    token_id: str | None = None


def load_idp_public_key(pem: str) -> Ed25519PublicKey:
    """The IdP's Ed25519 public key from PEM (SubjectPublicKeyInfo); anything else raises ValueError."""
    key = load_pem_public_key(pem.encode("ascii"))
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"the identity provider's key must be Ed25519, got {type(key).__name__}")
    return key


def verify_assertion(
    token: str,
    *,
    public_key: Ed25519PublicKey,
    audience: str,
    issuer: str | None = None,
    now: datetime | None = None,
) -> VerifiedAssertion:
    """Check the assertion's signature, audience, issuer and times; `AssertionRefused` says what failed."""
    if not token or len(token) > _MAX_TOKEN or token.count(".") != 2:
        raise AssertionRefused(
            "malformed_assertion",
            "the assertion is not a compact JWS (header.payload.signature) of at most 4096 characters",
            "身份断言格式无效（应为紧凑 JWS：header.payload.signature，最长 4096 字符）",
        )
    moment = (now or datetime.now(UTC)).timestamp()
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "EdDSA":
            raise AssertionRefused(
                "bad_algorithm",
                f"the assertion is signed with {str(header.get('alg'))[:16]!r}; only EdDSA (Ed25519) is accepted",
                "身份断言的签名算法不是 EdDSA（Ed25519），不予接受",
            )
        claims: dict[str, Any] = jwt.decode(
            token,
            key=public_key,
            algorithms=["EdDSA"],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["sub", "aud", "iat", "exp"], "verify_exp": False, "verify_iat": False},
        )
    except AssertionRefused:
        raise
    except jwt.InvalidSignatureError as e:
        raise AssertionRefused(
            "bad_signature",
            "the assertion's signature does not match the identity provider's key: it was forged or altered",
            "身份断言签名无效（与身份认证平台公钥不符，可能被伪造或篡改）",
        ) from e
    except (jwt.InvalidAudienceError, jwt.MissingRequiredClaimError) as e:
        if isinstance(e, jwt.MissingRequiredClaimError) and e.claim != "aud":
            raise AssertionRefused(
                "missing_claim",
                f"the assertion lacks the {e.claim!r} claim (sub, sub_kind, aud, iat and exp are required)",
                f"身份断言缺少 {e.claim} 声明（须含 sub、sub_kind、aud、iat、exp）",
            ) from e
        raise AssertionRefused(
            "wrong_audience",
            f"the assertion is not addressed to this hub: its audience must be {audience!r}",
            f"身份断言的受众（aud）不是本平台，应为 {audience}",
        ) from e
    except jwt.InvalidIssuerError as e:
        raise AssertionRefused(
            "wrong_issuer",
            f"the assertion was not issued by the configured identity provider {issuer!r}",
            "身份断言不是由配置的身份认证平台签发",
        ) from e
    except jwt.PyJWTError as e:
        raise AssertionRefused(
            "malformed_assertion",
            f"the assertion cannot be read: {type(e).__name__}",
            "身份断言无法解析",
        ) from e
    return _checked(claims, moment)


def _checked(claims: dict[str, Any], moment: float) -> VerifiedAssertion:
    """Times and subject claims, checked here so each failure has its own code and words."""
    issued, expires = claims.get("iat"), claims.get("exp")
    if not isinstance(issued, int | float) or not isinstance(expires, int | float) or isinstance(issued, bool):
        raise AssertionRefused("missing_claim", "iat and exp must be numbers (seconds)", "iat 与 exp 必须为秒数")
    if expires + LEEWAY_SECONDS < moment:
        raise AssertionRefused(
            "assertion_expired",
            "the assertion has expired: sign in to the 政务服务 app again for a new one",
            "身份断言已过期，请重新登录政务服务应用后再查询",
        )
    if issued - LEEWAY_SECONDS > moment:
        raise AssertionRefused(
            "assertion_not_yet_valid",
            "the assertion was issued in the future: check the identity provider's clock",
            "身份断言的签发时间晚于当前时间，请检查身份认证平台时钟",
        )
    if expires - issued > MAX_LIFETIME or expires <= issued:
        raise AssertionRefused(
            "assertion_too_long",
            f"the assertion is valid for {int(expires - issued)} s; at most {MAX_LIFETIME} s is accepted",
            f"身份断言有效期过长（{int(expires - issued)} 秒），最长 {MAX_LIFETIME} 秒",
        )
    kind = claims.get("sub_kind")
    if kind not in SUBJECT_KINDS:
        raise AssertionRefused(
            "missing_claim",
            "the assertion's sub_kind must be 'person' or 'entity'",
            "身份断言的 sub_kind 必须为 person（自然人）或 entity（法人）",
        )
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip() or len(subject) > 64:
        raise AssertionRefused("missing_claim", "the assertion's sub must be an ID number", "身份断言的 sub 无效")
    return VerifiedAssertion(
        subject=subject.strip().upper(),
        kind=kind,
        issued_at=datetime.fromtimestamp(issued, UTC),
        expires_at=datetime.fromtimestamp(expires, UTC),
        issuer=claims.get("iss") if isinstance(claims.get("iss"), str) else None,
        token_id=claims.get("jti") if isinstance(claims.get("jti"), str) else None,
    )
