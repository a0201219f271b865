"""A worker "host" for the multi-host test: a long-lived process with its own environment (GOVHUB_HOME...).

It reads one JSON request per line on stdin — `{"call": "extract", "args": ["person-000001-..."]}` —
runs that pipeline stage or delivery as an Airflow task would, and answers one JSON line on stdout:
`{"ok": <result>}` or `{"error": "<Type>: <message>"}`. Like a Celery worker on another machine, it
shares nothing with its peers but the settings it is given.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any


def _calls() -> dict[str, Callable[..., Any]]:
    from govhub import pipeline
    from govhub.delivery_runner import run_deliveries

    stages = ("begin", "extract", "validate", "publish", "register", "advance")
    return {**{name: getattr(pipeline, name) for name in stages}, "deliver": run_deliveries}


def main() -> None:
    calls = _calls()
    out = sys.stdout
    sys.stdout = sys.stderr  # anything the stages print must not break the protocol
    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = {"ok": calls[request["call"]](*request.get("args", ()), **request.get("kwargs", {}))}
        except Exception as e:  # reported to the test, which fails naming it
            reply = {"error": f"{type(e).__name__}: {e}"}
        out.write(json.dumps(reply, default=str) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
