"""A stand-in for the identity provider of the city's 政务服务 app: an Ed25519 key pair that signs identity
assertions (compact JWS, `alg: EdDSA`) for a person or entity it has authenticated.

The hub is given only the public half (`GOVHUB_IDP_PUBLIC_KEY`, or `<keys>/idp-public.pem`); the demo
and the tests mint assertions with `assertion(...)`, including expired or mis-addressed ones.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = ["DEFAULT_AUDIENCE", "ISSUER", "SimulatedIdP"]

DEFAULT_AUDIENCE = "govhub-access-record"
ISSUER = "https://zwfw.yiyang.example/idp"  # the simulated 政务服务 identity provider


@dataclass
class SimulatedIdP:
    """The IdP's key pair; `assertion` signs one identity assertion."""

    private_key: Ed25519PrivateKey
    issuer: str = ISSUER

    @classmethod
    def generate(cls) -> SimulatedIdP:
        """A fresh key pair."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, folder: Path) -> SimulatedIdP:
        """The key pair kept in `folder/idp.key` (PKCS#8, 0600), made on first use."""
        path = Path(folder) / "idp.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        return cls(key)

    def public_key_pem(self) -> str:
        """The public half the hub is configured with (SubjectPublicKeyInfo PEM)."""
        return (
            self.private_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )

    def assertion(
        self,
        subject: str,
        *,
        kind: str = "person",
        audience: str = DEFAULT_AUDIENCE,
        lifetime: int = 300,
        issued_at: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A signed assertion that the IdP authenticated `subject` (an ID number or a USCC) just now."""
        now = int(time.time() if issued_at is None else issued_at)
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "sub_kind": kind,
            "aud": audience,
            "iat": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
            **(extra or {}),
        }
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"typ": "JWT"})
