"""Who is watching the monitor: data administrators (user name + password) or departments (API key).

Administrators live in `<GOVHUB_HOME>/keys/monitor-admins.json` (Argon2id hashes via argon2-cffi,
file mode 0600; older scrypt hashes still verify and are rehashed at the next sign-in), written by
`govhub monitor create-admin NAME`; an administrator may hold the role `pii_viewer` (may see
personal data in clear). Departments sign in with the API key issued by `govhub catalog issue-key`
and then see only their own exchanges. The session cookie is signed with itsdangerous under a
secret kept in `<keys>/monitor-session.secret`; it carries a random session id (revoked on the
server at sign-out, `web.monitor.sessions`) and a fingerprint of the stored hash, so changing a
password or reissuing a key ends the sessions made with the old one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from catalog import Department, authenticate
from catalog.credentials import secret_matches
from schemas import GovhubError
from web.monitor.sessions import is_revoked

__all__ = [
    "COOKIE_NAME",
    "PII_VIEWER",
    "SESSION_SECONDS",
    "Viewer",
    "admin_store_path",
    "check_admin",
    "create_admin",
    "read_cookie",
    "session_secret",
    "sign_in_department",
    "write_cookie",
]

log = logging.getLogger(__name__)

COOKIE_NAME = "govhub_monitor"
SESSION_SECONDS = 8 * 3600  # one working day
_ADMINS_FILE = "monitor-admins.json"
_SECRET_FILE = "monitor-session.secret"
PII_VIEWER = "pii_viewer"  # the role that may see personal data in clear (each view is logged)
_HASHER = PasswordHasher()  # Argon2id, argon2-cffi's defaults (RFC 9106 low-memory profile)


@dataclass(frozen=True)
class Viewer:
    """The signed-in person: an administrator (sees everything) or a department (its own exchanges)."""

    kind: Literal["admin", "department"]
    name: str
    department_code: str | None = None
    department_names: tuple[str, ...] = ()
    may_see_pii: bool = False
    session_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"


def admin_store_path(keys_dir: Path) -> Path:
    """Where administrators' hashed passwords are kept."""
    return Path(keys_dir) / _ADMINS_FILE


def _matches(secret: str, stored: str) -> bool:
    try:
        if stored.startswith("scrypt$"):  # written before Argon2; rehashed at the next sign-in
            return secret_matches(secret, stored)
        return _HASHER.verify(stored, secret)
    except (ValueError, InvalidHashError):
        log.warning("a monitor administrator's stored hash is malformed; run create-admin again")
        return False
    except VerificationError:
        return False


def _fingerprint(stored_hash: str) -> str:
    return hashlib.sha256(stored_hash.encode()).hexdigest()[:20]


def _load_admins(keys_dir: Path) -> dict[str, dict[str, Any]]:
    path = admin_store_path(keys_dir)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise GovhubError(f"cannot read the monitor's administrators from {path}: {e}; fix or remove the file") from e
    return data if isinstance(data, dict) else {}


def _write_admins(keys_dir: Path, admins: dict[str, dict[str, Any]]) -> None:
    path = admin_store_path(keys_dir)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(admins, handle, ensure_ascii=False, indent=1)
    os.replace(temporary, path)


def create_admin(keys_dir: Path, username: str, password: str, *, may_see_pii: bool = False) -> None:
    """Add an administrator or set a new password (which ends the old sessions); file kept at mode 0600.

    `may_see_pii` gives the `pii_viewer` role: the quarantine browser then offers clear values
    (each clear view is an exchange-log event); without it every personal value is masked.
    """
    if not username.strip() or len(password) < 8:
        raise GovhubError("an administrator needs a non-empty user name and a password of at least 8 characters")
    keys_dir = Path(keys_dir)
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    admins = _load_admins(keys_dir)
    admins[username.strip()] = {
        "hash": _HASHER.hash(password),
        "roles": [PII_VIEWER] if may_see_pii else [],
        "created_at": datetime.now(UTC).isoformat(),
    }
    _write_admins(keys_dir, admins)
    log.info("monitor administrator %s written to %s", username, admin_store_path(keys_dir))


def check_admin(keys_dir: Path, username: str, password: str) -> str | None:
    """The fingerprint to put in the cookie when the password is right, else None (same cost either way).

    A right password stored under an outdated scheme or parameters is rehashed (Argon2id) on the spot.
    """
    admins = _load_admins(keys_dir)
    entry = admins.get(username)
    if entry is None:
        _HASHER.hash(password or "-")
        return None
    if not _matches(password, entry["hash"]):
        return None
    if entry["hash"].startswith("scrypt$") or _HASHER.check_needs_rehash(entry["hash"]):
        entry["hash"] = _HASHER.hash(password)
        _write_admins(Path(keys_dir), admins)
    return _fingerprint(entry["hash"])


def sign_in_department(session: Session, api_key: str) -> tuple[Department, str] | None:
    """The department holding this key and the cookie fingerprint, or None."""
    department = authenticate(session, api_key.strip())
    if department is None or department.api_key_hash is None:
        return None
    return department, _fingerprint(department.api_key_hash)


def _serializer(keys_dir: Path) -> URLSafeTimedSerializer:
    path = Path(keys_dir) / _SECRET_FILE
    if not path.exists():
        Path(keys_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker won the race; read its secret
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    return URLSafeTimedSerializer(path.read_text().strip(), salt="govhub.monitor.session")


def session_secret(keys_dir: Path) -> str:
    """The monitor's signing secret (sessions and CSRF tokens), created on first use (0600)."""
    return str(_serializer(keys_dir).secret_key.decode())


def write_cookie(keys_dir: Path, payload: dict[str, str]) -> str:
    """The signed cookie value for a session payload (kind, name or code, fingerprint, session id `s`)."""
    return _serializer(keys_dir).dumps(payload)


def read_cookie(keys_dir: Path, value: str | None, session: Session) -> Viewer | None:
    """The viewer a cookie names, if it is signed, younger than a working day and still valid."""
    if not value:
        return None
    try:
        payload = _serializer(keys_dir).loads(value, max_age=SESSION_SECONDS)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("s"), str) or is_revoked(session, payload["s"]):
        return None
    sid = payload["s"]
    if payload.get("k") == "admin":
        entry = _load_admins(keys_dir).get(str(payload.get("u")))
        if entry is None or _fingerprint(entry["hash"]) != payload.get("f"):
            return None
        roles: list[str] = entry.get("roles") or []
        return Viewer(kind="admin", name=str(payload["u"]), may_see_pii=PII_VIEWER in roles, session_id=sid)
    if payload.get("k") == "department":
        department = session.get(Department, str(payload.get("c")))
        if department is None or not department.active or department.api_key_hash is None:
            return None
        if _fingerprint(department.api_key_hash) != payload.get("f"):
            return None
        return Viewer(
            kind="department",
            name=department.name,
            department_code=department.code,
            department_names=(department.code, department.name),
            session_id=sid,
        )
    return None
