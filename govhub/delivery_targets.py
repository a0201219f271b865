"""Delivery targets from settings: register a department's named database, resolve it for a delivery.

The hub administrator's side of `catalog.delivery_targets`: `--url` connections are written to a
secret file under `<GOVHUB_HOME>/keys/delivery-targets/<department>/<name>.url` (mode 0600) and only
the file's reference is stored; `--secret-file` names an existing secret (Docker/Kubernetes);
`--setting` names an entry of GOVHUB_DELIVERY_TARGETS. The hub's own stores (`Settings.hub_stores`)
are reserved: no target may reach them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sqlalchemy.orm import Session

from catalog import DeliveryTarget, register_target, resolve_target_url
from govhub.settings import Settings, get_settings
from schemas import GovhubError

__all__ = ["add_target", "target_resolver", "write_secret_file"]


def write_secret_file(path: Path, url: str) -> None:
    """Write a connection URL to `path` atomically with mode 0600 (folders 0700)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".target-")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(url.strip() + "\n")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def add_target(
    session: Session,
    *,
    department_code: str,
    name: str,
    url: str | None = None,
    secret_file: Path | None = None,
    setting: str | None = None,
    actor: str = "govhub-admin",
    settings: Settings | None = None,
) -> DeliveryTarget:
    """Register a department's target from exactly one of a URL, a secret file or a settings key.

    A URL is checked before its secret file is written, so a refused target leaves nothing behind.
    """
    settings = settings or get_settings()
    given = [v for v in (url, secret_file, setting) if v]
    if len(given) != 1:
        raise GovhubError("give exactly one of a URL, a secret file or a settings key for the target's connection")
    stored: Path | None = None
    if url:
        stored = settings.delivery_targets_dir / department_code / f"{name}.url"
        staging = stored.with_name(f".{name}.checking")
        write_secret_file(staging, url)
        ref = f"file:{staging}"
    elif secret_file:
        ref = f"file:{Path(secret_file).expanduser().resolve()}"
    else:
        ref = f"setting:{setting}"
    try:
        target = register_target(
            session,
            department_code=department_code,
            name=name,
            connection_ref=ref,
            reserved=settings.hub_stores,
            settings_targets=settings.delivery_targets,
            actor=actor,
        )
        if stored is not None:
            os.replace(staging, stored)
            target.connection_ref = f"file:{stored}"
            session.flush()
        return target
    finally:
        if stored is not None:
            staging.unlink(missing_ok=True)


def target_resolver(session: Session, settings: Settings | None = None):  # type: ignore[no-untyped-def]
    """A resolver for `deliver_resource(targets=...)`: the named target's URL, checked against the hub's stores."""
    settings = settings or get_settings()

    def resolve(sub) -> str:  # type: ignore[no-untyped-def]
        return resolve_target_url(
            session,
            sub.department_code,
            sub.target_name,
            reserved=settings.hub_stores,
            settings_targets=settings.delivery_targets,
        )

    return resolve
