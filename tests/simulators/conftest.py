from __future__ import annotations

import pytest

from simulators.testing import simulator_home


@pytest.fixture(scope="session")
def home(tmp_path_factory):
    """One small built home shared read-only by the session's tests."""
    return simulator_home(tmp_path_factory.mktemp("home"), size=3000, seed=7, bad_share=0.04)
