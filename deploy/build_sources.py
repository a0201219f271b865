"""Build the stand-in source systems once (compose service `sources-build`).

The registries go where the hub reads them (GOVHUB_POPULATION_URL, GOVHUB_LEGAL_ENTITY_URL, through
govhub's settings); the credit database, the non-tax ledger and the settlement inbox go under --home.
An existing simulator home is kept (a restart must not replace the sources under a running hub);
--rebuild replaces it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger("govhub.deploy.sources")


def main(argv: list[str] | None = None) -> int:
    """Build (or keep) the simulator home; 0 on success."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True, help="simulator home (credit DB, ledger, inbox)")
    parser.add_argument("--size", type=int, default=20_000, help="persons in the population registry")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true", help="replace an existing simulator home")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from govhub.settings import get_settings
    from simulators.home import SimulatorHome, build_all

    if (args.home / "simulator.json").exists() and not args.rebuild:
        home = SimulatorHome.open(args.home)
        log.info("simulator home %s exists (%s); kept (--rebuild replaces it)", args.home, home.counts)
        return 0
    settings = get_settings()
    home = build_all(
        args.home,
        size=args.size,
        seed=args.seed,
        population_url=settings.population_url,
        legal_entity_url=settings.legal_entity_url,
    )
    log.info("built simulator home %s: %s", home.root, home.counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
