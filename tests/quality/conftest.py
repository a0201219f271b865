"""Fixtures for the quality tests: contracts, reference values and valid rows (factories: quality_factories.py)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from quality_factories import TODAY, as_table, good_rows, reference_values

from quality import validate
from schemas import Contract, load_all

RESOURCES = ["person", "legal_entity", "payment", "credit_record"]


@pytest.fixture(scope="session")
def contracts() -> dict[str, Contract]:
    return load_all()


@pytest.fixture(scope="session")
def references() -> dict[str, pa.Array]:
    return reference_values()


@pytest.fixture(scope="session")
def accepted(contracts: dict[str, Contract], references: dict[str, pa.Array]) -> dict[str, pa.Table]:
    """Six typed, valid rows per resource (what the lake holds), for the suites to pass on or be damaged."""
    out = {}
    for resource in RESOURCES:
        contract = contracts[resource]
        verdict = validate(as_table(good_rows(resource, 6), contract), contract, references=references, today=TODAY)
        out[resource] = verdict.accepted
    return out
