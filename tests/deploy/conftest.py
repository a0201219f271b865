"""Fixtures for the deployment tests: docker-compose.yml parsed, and rendered with .env.example."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from compose_support import env_example, interpolate, load_compose


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """docker-compose.yml as written (variables not substituted)."""
    return load_compose()


@pytest.fixture(scope="session")
def example_env() -> dict[str, tuple[str, list[str]]]:
    """.env.example: {NAME: (value, comment lines)}."""
    return env_example()


@pytest.fixture(scope="session")
def dot_env(example_env: dict[str, tuple[str, list[str]]]) -> dict[str, str]:
    """A filled-in `.env`: the example's values, every blank secret replaced by a URL-safe test value."""
    return {name: value or f"test-{name.lower().replace('_', '-')}" for name, (value, _) in example_env.items()}


@pytest.fixture(scope="session")
def rendered(compose: dict[str, Any], dot_env: dict[str, str]) -> dict[str, Any]:
    """docker-compose.yml as `docker compose config` would see it with that `.env`."""
    return interpolate(compose, dot_env)


@pytest.fixture
def clean_govhub_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No GOVHUB_* variable from the outer environment, and settings re-read before and after."""
    import os

    from govhub.settings import reset_settings

    for name in list(os.environ):
        if name.startswith("GOVHUB_"):
            monkeypatch.delenv(name)
    reset_settings()
    yield monkeypatch
    monkeypatch.undo()
    reset_settings()
