"""A stand-in for govhub.pipeline that records the stage calls of a DAG run."""

from __future__ import annotations

import types
from typing import Any


class FakePipeline:
    """Stands in for `govhub.pipeline`: records each stage call; `fail_in` makes that stage raise."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.fail_in: str | None = None
        self.resource = ""

    def module(self) -> types.ModuleType:
        module = types.ModuleType("govhub.pipeline")
        module.begin = self.begin
        module.fail = self.fail
        module.recheck_pending = self.recheck_pending
        for stage in ("extract", "validate", "publish", "register", "advance"):
            setattr(module, stage, self._stage(stage))
        return module

    def begin(self, resource: str, **options: Any) -> str:
        self.resource = resource
        self.calls.append(("begin", resource, options.get("orchestrator", "")))
        self._maybe_raise("begin")
        return f"{resource}-000001-fake"

    def recheck_pending(self, resource: str, **options: Any) -> dict[str, Any] | None:
        self.calls.append(("recheck", resource, options.get("orchestrator", "")))
        self._maybe_raise("recheck")
        return None

    def fail(self, run_id: str, error: str) -> None:
        self.calls.append(("fail", run_id, error))

    def _stage(self, name: str) -> Any:
        results = {
            "extract": {"extracted": 5},
            "validate": {"accepted": 4, "rejected": 1, "warned": 0},
            "publish": {"version": 3},
            "register": {"version": 3, "scorecard": {"accuracy": 0.8}},
        }

        def stage(run_id: str) -> dict[str, Any]:
            self.calls.append((name, run_id))
            self._maybe_raise(name)
            if name == "advance":
                return {
                    "resource": self.resource,
                    "run_id": run_id,
                    "version": 3,
                    "extracted": 5,
                    "accepted": 4,
                    "rejected": 1,
                    "warned": 0,
                    "status": "succeeded",
                    "seconds": 0.5,
                    "top_reasons": [["id_number", "gb11643", 1]],
                }
            return results[name]

        return stage

    def _maybe_raise(self, name: str) -> None:
        if self.fail_in == name:
            raise RuntimeError(f"simulated failure in {name}")

    @property
    def stages(self) -> list[str]:
        return [call[0] for call in self.calls]
