"""Schema-driven fuzzing of the app's OpenAPI spec with schemathesis: every operation, valid and invalid input.

`fuzz(schema, headers=..., examples=...)` runs each operation's positive and negative strategies through
Hypothesis (no shrinking: every case is tried once and tallied) and checks each answer: no 5xx (nor an
exception escaping the app), a documented status code, a body matching the documented schema and media
type. It returns the tally and the first failures, so the caller records them before asserting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

__all__ = ["CHECKS", "FuzzTally", "fuzz"]

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]


@dataclass
class FuzzTally:
    """What the fuzzing sent and how the app answered."""

    operations: int = 0
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    per_operation: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> int:
        return len(self.failures)

    def sample(self, n: int = 5) -> str:
        return "\n\n".join(self.failures[:n])


def fuzz(
    schema: Any,
    *,
    headers: Mapping[str, str],
    examples: int,
    on_response: Callable[[Any, Any], str | None] | None = None,
) -> FuzzTally:
    """Fuzz every operation of `schema` (a schemathesis OpenAPI schema over the ASGI app).

    `headers` are sent with every case (keys). `on_response(case, response)` may return a complaint of
    its own (e.g. "a protected operation answered 2xx without a key"); it counts as a failure.
    """
    tally = FuzzTally()
    for result in schema.get_all_operations():
        operation = result.ok()
        tally.operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(operation, mode, dict(headers), examples, tally, on_response)
    return tally


def _fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    examples: int,
    tally: FuzzTally,
    on_response: Callable[[Any, Any], str | None] | None,
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        tally.requests += 1
        tally.per_operation[operation.label] += 1
        where = f"{operation.label} ({mode.value}) path={case.path_parameters} query={case.query}"
        try:
            response = case.call(headers=headers)
        except Exception as e:  # an exception escaping the app is a 500 for the caller
            tally.statuses[500] += 1
            tally.failures.append(f"{where}: the app raised {type(e).__name__}: {e}")
            return
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except BaseException as e:  # schemathesis reports a group of check failures
            if isinstance(e, KeyboardInterrupt):
                raise
            tally.failures.append(f"{where} -> {response.status_code}: {str(e)[:600]}")
            return
        complaint = on_response(case, response) if on_response else None
        if complaint:
            tally.failures.append(f"{where} -> {response.status_code}: {complaint}")

    with suppress(Unsatisfiable):  # no negative input exists for an operation without parameters
        run()
