"""One-shot start-up of a govhub deployment (compose service `govhub-init`), before any hub process runs.

Reads the settings (a malformed GOVHUB_* variable stops here, named), migrates the hub metadata
store, creates the hub's signing key and delivery secret under GOVHUB_HOME/keys once, and checks
that the lake is reachable with the configured credentials. Idempotent: safe on every start.
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger("govhub.deploy.init")


def main() -> int:
    """Run the start-up steps; 0 on success, 1 with one readable line on a govhub error."""
    from schemas import GovhubError

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        _init()
    except GovhubError as e:
        log.error("govhub-init failed: %s", e)
        return 1
    return 0


def _init() -> None:
    import tempfile
    from pathlib import Path

    from exchange.crypto.keys import load_or_create_signer
    from govhub.db import migrate
    from govhub.delivery_runner import delivery_secret, open_lake
    from govhub.settings import get_settings
    from lake import ObjectStore

    settings = get_settings()
    migrate()
    log.info("hub metadata store migrated (%s)", settings.metadata_url.split("@")[-1])
    signer = load_or_create_signer(settings.keys_dir, algorithm=settings.seal_algorithm)
    log.info("hub key ready: %r", signer)
    delivery_secret(settings)
    lake = open_lake(settings)
    with tempfile.TemporaryDirectory() as tmp:  # proves bucket, credentials and write permission
        marker = Path(tmp, "ready.txt")
        marker.write_text("govhub-init\n", encoding="utf-8")
        where = ObjectStore.from_lake(lake).put_file("_deploy/ready.txt", marker, content_type="text/plain")
    log.info("lake writable at %s (%s)", lake.root, where)


if __name__ == "__main__":
    sys.exit(main())
