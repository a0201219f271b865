"""Drive headless Chromium over the DevTools protocol: load a page, run a script in it, read its text.

`--dump-dom` only loads a page; a sign-in form or a decision button needs a browser that types and
clicks. The browser runs with the network cut, as on the intranet (see `monitor_browser_support`).
"""

from __future__ import annotations

import itertools
import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from monitor_browser_support import CHROMIUM, NETWORK_CUT, _free_port
from websockets.sync.client import connect

__all__ = ["Browser", "browser"]


class Browser:
    """One tab: `goto` a URL, `run` JavaScript in it, `text` of its body."""

    def __init__(self, socket: Any) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    def _call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self._ids)
        self._socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=30))
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def run(self, script: str) -> Any:
        """The value of `script` evaluated in the page (promises awaited)."""
        result = self._call("Runtime.evaluate", expression=script, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, condition: str, timeout: float = 15) -> None:
        """Until the JavaScript `condition` holds in the page (after a navigation, a submit)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.run(f"document.readyState === 'complete' && !!({condition})"):
                    return
            except RuntimeError:
                pass  # the page is being replaced
            time.sleep(0.1)
        raise TimeoutError(f"page never satisfied {condition!r}; it shows: {self.text()[:500]}")

    def goto(self, url: str) -> None:
        self._call("Page.navigate", url=url)
        self.wait_for("document.body")

    def text(self) -> str:
        return str(self.run("document.body ? document.body.innerText : ''"))


@contextmanager
def browser(profile: Path) -> Iterator[Browser]:
    """Headless Chromium with one tab, the network cut; closed afterwards."""
    assert CHROMIUM is not None
    port = _free_port()
    process = subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            NETWORK_CUT,
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                tabs = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                page = next(t for t in tabs if t.get("type") == "page")
                break
            except (httpx.HTTPError, StopIteration):
                if time.monotonic() > deadline:
                    raise RuntimeError("chromium did not open its DevTools port within 30 s") from None
                time.sleep(0.2)
        with connect(page["webSocketDebuggerUrl"], max_size=None) as socket:
            tab = Browser(socket)
            tab._call("Page.enable")
            yield tab
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
