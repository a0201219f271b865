"""Point this test's govhub at a simulator home: the one place tests map sources to GOVHUB_* settings; and
hub homes prepared once and copied for each test (migrations, password hashes and keys cost more than a copy)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from govhub.settings import reset_settings
from simulators import SimulatorHome

__all__ = ["configure_hub_env", "home_from_template", "template_home"]


@contextmanager
def template_home(home: Path) -> Iterator[Path]:
    """GOVHUB_HOME pointed at `home` while a template is prepared in it; the environment restored after, the
    store's connections closed so that the files can be copied."""
    from govhub.db import engine_for
    from govhub.settings import get_settings

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("GOVHUB_HOME", str(home))
        reset_settings()
        try:
            yield home
        finally:
            engine_for(get_settings().metadata_url).dispose()
            reset_settings()


def home_from_template(template: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of a prepared hub home at `home`, made this test's GOVHUB_HOME (settings reloaded)."""
    shutil.copytree(template, home, symlinks=True, dirs_exist_ok=True)
    monkeypatch.setenv("GOVHUB_HOME", str(home))
    reset_settings()
    return home


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
