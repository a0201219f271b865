"""Fuzzing the whole API from its OpenAPI spec (schemathesis): no 5xx anywhere, every answer as documented.

Run against a populated hub (catalogue, departments, subscriptions in every state, deliveries,
verification clients), once with valid keys (a department's X-API-Key and a client's X-Client-Key)
and once without (schemathesis then sends random keys where the spec declares them). Without keys,
no protected operation may answer 2xx and no answer may carry a protected value. Each operation gets
its schema-valid and schema-violating inputs; the bounded form keeps it to a few examples each.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis

from tests.reliability.attack_fuzz import FuzzTally, fuzz
from tests.reliability.attack_hub import AttackHub, attack_hub
from tests.reliability.attack_kit import protected_operations
from tests.reliability.ledger import record, scaled


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AttackHub]:
    with attack_hub(tmp_path_factory.mktemp("fuzz-hub")) as built:
        yield built


@pytest.fixture(scope="module")
def schema(hub: AttackHub) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", hub.app)


def _figures(tally: FuzzTally) -> dict[str, Any]:
    statuses = ", ".join(f"{code}×{n}" for code, n in sorted(tally.statuses.items()))
    return {"operations": tally.operations, "statuses": statuses}


def test_fuzzing_with_valid_keys_finds_no_server_error_and_no_undocumented_answer(hub: AttackHub, schema: Any) -> None:
    headers = {"X-API-Key": hub.keys["user"], "X-Client-Key": hub.client_keys["all"]}
    tally = fuzz(schema, headers=headers, examples=scaled(6, 150))
    record(
        "attacks",
        "schema fuzzing with valid department and client keys",
        tried=tally.requests,
        held=tally.requests - tally.failed,
        **_figures(tally),
    )
    assert tally.operations >= 25 and tally.requests >= 5 * tally.operations
    assert tally.statuses[200] > 0, "valid keys must get some answers through"
    assert not tally.failures, tally.sample()


def test_fuzzing_without_keys_is_refused_everywhere_and_discloses_nothing(hub: AttackHub, schema: Any) -> None:
    protected = {(op.method, op.path) for op in protected_operations(hub.client.get("/openapi.json").json())}
    secrets = hub.protected

    def refused_and_silent(case: Any, response: Any) -> str | None:
        key = (case.operation.method.upper(), case.operation.path)
        if key in protected and response.status_code < 300:
            return f"a protected operation answered {response.status_code} without a valid key"
        text = response.content.decode("utf-8", "replace")
        leaked = [s for s in secrets if s in text]
        return f"the answer discloses {leaked[:3]}" if leaked else None

    tally = fuzz(schema, headers={}, examples=scaled(3, 60), on_response=refused_and_silent)
    record(
        "attacks",
        "schema fuzzing without keys (or with random ones)",
        tried=tally.requests,
        held=tally.requests - tally.failed,
        protected_operations=len(protected),
        **_figures(tally),
    )
    assert len(protected) >= 18, sorted(protected)
    assert tally.statuses[401] > 0
    assert not tally.failures, tally.sample()
