"""Serve the monitor to a headless browser: uvicorn in a thread, every page seen by an administrator.

The browser runs with the network cut (every host name but the loopback address fails to resolve),
as on the government intranet: a page that needs a CDN shows blank here too.

A browser started with --dump-dom cannot fill in the sign-in form, so the app's viewer dependencies
are overridden; sign-in itself is tested through TestClient.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from web import create_app
from web.monitor.auth import Viewer
from web.monitor.pages import api_viewer, page_viewer

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
ADMIN = Viewer(kind="admin", name="browser-test")
NETWORK_CUT = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_as_admin() -> Iterator[str]:
    """The app on a free loopback port with an administrator signed in; yields its base URL."""
    app = create_app()
    app.dependency_overrides[page_viewer] = lambda: ADMIN
    app.dependency_overrides[api_viewer] = lambda: ADMIN
    with serve(app) as base:
        yield base


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """`app` served by uvicorn in a thread on a free loopback port; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start within 15 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def chromium(url: str, profile: Path, *, screenshot: Path | None = None, timeout: float = 60) -> str:
    """Load `url` headless and return the DOM after its scripts ran (or write a screenshot)."""
    assert CHROMIUM is not None
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=3000",
        NETWORK_CUT,
    ]
    if screenshot is not None:
        args += [f"--screenshot={screenshot}", "--window-size=1400,1100"]
    else:
        args.append("--dump-dom")
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout
