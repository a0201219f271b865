"""The hub's symmetric secrets: 32 random bytes per purpose under `<GOVHUB_HOME>/keys/<name>.secret`, made once.

Each is created atomically and exclusively (temp file + hard link, mode 0600), so processes starting at
the same time keep the first one. Back them up with the signing keys: a new secret changes what it keys.
"""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from pathlib import Path

__all__ = ["hub_secret"]

log = logging.getLogger(__name__)

_SECRET_BYTES = 32


def hub_secret(name: str, *, home: Path, keys_dir: Path | None = None) -> bytes:
    """The secret `<keys_dir>/<name>.secret` (default keys_dir: `<home>/keys`), created on first use."""
    path = Path(keys_dir or Path(home) / "keys") / f"{name}.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.secret-")  # mode 0600
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(_SECRET_BYTES))
            os.link(tmp, path)  # atomic and exclusive: a process starting at the same time keeps the first secret
            log.warning("created the hub secret %s; back it up", path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_bytes()
