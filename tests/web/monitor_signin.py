"""Sign in to the monitor as a browser does: fetch the form (CSRF cookie + token), then post it."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: TestClient, path: str = "/monitor/login") -> str:
    """The CSRF token of a monitor page (the page also sets the browser's CSRF cookie)."""
    page = client.get(path)
    found = _TOKEN.search(page.text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: TestClient, **form: str) -> Any:
    """POST the sign-in form with its CSRF token; returns the answer (303 on success)."""
    return client.post("/monitor/login", data={**form, "csrf_token": csrf_token(client)}, follow_redirects=False)
