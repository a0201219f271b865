"""`make bench` (`python -m bench`): the peers, city, verification and delivery suites, then the README's figures.

See bench/report.py for the flags (`--quick`, `--only`, `--scale`, ...); every script also runs alone.
"""

from __future__ import annotations

import sys

from bench.report import main

if __name__ == "__main__":
    sys.exit(main())
