"""Point this test's govhub at a simulator home: the one place tests map sources to GOVHUB_* settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from govhub.settings import reset_settings
from simulators import SimulatorHome

__all__ = ["configure_hub_env"]


def configure_hub_env(monkeypatch: pytest.MonkeyPatch, home: Path, sources: SimulatorHome, credit_url: str) -> None:
    """GOVHUB_HOME plus the four sources' settings (registries, credit platform, inbox); settings reloaded."""
    monkeypatch.setenv("GOVHUB_HOME", str(home))
    monkeypatch.setenv("GOVHUB_POPULATION_URL", sources.population_url)
    monkeypatch.setenv("GOVHUB_LEGAL_ENTITY_URL", sources.legal_entity_url)
    monkeypatch.setenv("GOVHUB_CREDIT_BASE_URL", credit_url)
    monkeypatch.setenv("GOVHUB_CREDIT_TOKEN", sources.token)
    monkeypatch.setenv("GOVHUB_CREDIT_TIMEOUT", "5")
    monkeypatch.setenv("GOVHUB_NONTAX_INBOX", str(sources.inbox))
    reset_settings()
