"""Factory: a department's delivery target held in a secret file (what `govhub target add --url` writes)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from catalog import DeliveryTarget, register_target


def file_target(
    session: Session, folder: Path, department: str, name: str, url: str, *, reserved: dict[str, str] | None = None
) -> DeliveryTarget:
    secret = Path(folder) / f"{department}-{name}.url"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text(url + "\n", encoding="utf-8")
    secret.chmod(0o600)
    return register_target(
        session, department_code=department, name=name, connection_ref=f"file:{secret}", reserved=reserved or {}
    )
