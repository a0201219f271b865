"""Departments (委办局) that provide and use resources, and their API keys (stored salted and hashed)."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import OrderedDict
from typing import Literal

from sqlalchemy import Boolean, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from catalog.credentials import hash_secret, secret_matches
from catalog.db import Base
from catalog.errors import CatalogError
from schemas import load_systems

__all__ = [
    "Department",
    "DepartmentKind",
    "authenticate",
    "get_department",
    "issue_api_key",
    "seed_departments",
]

log = logging.getLogger(__name__)

DepartmentKind = Literal["provider", "user", "both"]

# Using departments of Yiyang: (name, name_en, GB 11714 organisation code body). Their USCCs are
# generated (authority 1 机构编制, type 1 机关, region 430900) so they pass the GB 32100 check;
# they are stand-ins, not the real registrations.
_USERS: tuple[tuple[str, str, str], ...] = (
    ("市人社局", "Municipal Human Resources and Social Security Bureau", "00601240"),
    ("市住建局", "Municipal Housing and Urban-Rural Development Bureau", "00601241"),
    ("市不动产登记中心", "Municipal Real Estate Registration Center", "00601242"),
    ("市税务局", "Municipal Taxation Bureau", "00601243"),
    ("市医保局", "Municipal Healthcare Security Administration", "00601244"),
    ("市民政局", "Municipal Civil Affairs Bureau", "00601245"),
)
_KEY_PREFIX = "gh"
# scrypt cost: ~16 MiB and some tens of ms per check; kept in each stored hash so it can grow later.
_VERIFIED_MAX = 1024
_verified: OrderedDict[tuple[str, str], None] = OrderedDict()


class Department(Base):
    """A government department: provider of resources, user of them, or both."""

    __tablename__ = "department"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(16), default="user")
    api_key_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def __repr__(self) -> str:
        return f"Department({self.code!r}, {self.name!r}, kind={self.kind!r})"


def seed_departments(session: Session) -> list[Department]:
    """Insert or refresh Yiyang's provider and user departments (idempotent; keys are kept).

    Providers come from `schemas/systems.yaml` (their codes are the contracts' provider codes);
    they also use other departments' data, so their kind is "both".
    """
    from quality.codes import make_uscc  # the one national-code helper the catalogue needs

    wanted: list[tuple[str, str, str, DepartmentKind]] = []
    for system in load_systems().values():
        provider = system["provider"]
        wanted.append((str(provider["code"]), provider["name"], provider.get("name_en", ""), "both"))
    for name, name_en, org8 in _USERS:
        wanted.append((make_uscc("1", "1", "430900", org8), name, name_en, "user"))
    departments = []
    for code, name, name_en, kind in wanted:
        department = session.get(Department, code)
        if department is None:
            department = Department(code=code, name=name, name_en=name_en, kind=kind, active=True)
            session.add(department)
        else:
            department.name, department.name_en, department.kind = name, name_en, kind
        departments.append(department)
    session.flush()
    return departments


def get_department(session: Session, code: str) -> Department:
    """The department with this code or name (市人社局, or its English name); an unknown one lists the known ones."""
    department = session.get(Department, code)
    if department is None and code:
        wanted = code.strip().casefold()
        department = next(
            (d for d in session.scalars(select(Department)) if wanted in (d.name.casefold(), d.name_en.casefold())),
            None,
        )
    if department is None:
        known = ", ".join(f"{d.code} {d.name}" for d in session.scalars(select(Department).order_by(Department.code)))
        raise CatalogError(
            f"unknown department '{code}'; known departments: {known or 'none (run `govhub catalog seed`)'}",
            message_zh=f"部门 {code} 不存在（可用部门代码或名称，`govhub department list` 列出全部部门）",
            kind="not_found",
        )
    return department


def issue_api_key(session: Session, department_code: str) -> str:
    """Issue a new API key for a department and return it in plain text, once.

    Only a salted scrypt hash is stored; issuing again replaces (and so revokes) the old key.
    The key names its department (`gh.<code>.<secret>`) so checking it costs one hash, not one per
    department.
    """
    department = get_department(session, department_code)
    secret = secrets.token_urlsafe(32)
    department.api_key_hash = hash_secret(secret)
    session.flush()
    log.info("issued a new API key for department %s", department.code)
    return f"{_KEY_PREFIX}.{department.code}.{secret}"


def authenticate(session: Session, api_key: str) -> Department | None:
    """The active department holding this API key, or None (forged, revoked, malformed or inactive)."""
    prefix, _, rest = (api_key or "").partition(".")
    code, _, secret = rest.partition(".")
    department = session.get(Department, code) if prefix == _KEY_PREFIX and code and secret else None
    stored = department.api_key_hash if department is not None else None
    if stored is None:
        hash_secret(secret or "-")  # spend the same time as a real check, so timing does not reveal codes
        return None
    if not department.active or not _verify_cached(secret, stored):
        return None
    return department


def _verify_cached(secret: str, stored: str) -> bool:
    """Check a key, remembering keys that checked out: scrypt takes ~0.1 s, too slow for every request.

    Only successes are remembered (a forged key always pays the full cost), keyed by the stored
    hash (a reissued key has a new salt, so the old entry never matches) and a SHA-256 of the key.
    """
    entry = (stored, hashlib.sha256(secret.encode()).hexdigest())
    if entry in _verified:
        _verified.move_to_end(entry)
        return True
    if not _verify(secret, stored):
        return False
    _verified[entry] = None
    while len(_verified) > _VERIFIED_MAX:
        _verified.popitem(last=False)
    return True


def _verify(secret: str, stored: str) -> bool:
    try:
        return secret_matches(secret, stored)
    except ValueError:
        log.warning("a department's stored API key hash is malformed; issue a new key")
        return False
