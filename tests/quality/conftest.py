"""Fixtures for the quality tests: contracts and reference values (factories: quality_factories.py)."""

from __future__ import annotations

import pyarrow as pa
import pytest
from quality_factories import reference_values

from schemas import Contract, load_all


@pytest.fixture(scope="session")
def contracts() -> dict[str, Contract]:
    return load_all()


@pytest.fixture(scope="session")
def references() -> dict[str, pa.Array]:
    return reference_values()
