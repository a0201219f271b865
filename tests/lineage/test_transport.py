"""Transports: HTTP posts to a configured endpoint (and keeps the file), a dead endpoint fails nothing."""

from __future__ import annotations

import gzip
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from govhub.lineage import emit_ingest, read_lineage
from govhub.settings import get_settings, reset_settings
from schemas import SettingsError


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        type(self).received.append((self.path, json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass


@pytest.fixture
def lineage_server() -> Iterator[tuple[str, list]]:
    """A tiny OpenLineage endpoint on a free port, collecting (path, event) pairs."""
    received: ClassVar[list[tuple[str, dict]]] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A GOVHUB_HOME with default (embedded) sources; events name them without reading them."""
    monkeypatch.setenv("GOVHUB_HOME", str(tmp_path))
    for name in ("GOVHUB_POPULATION_URL", "GOVHUB_LINEAGE_URL", "OPENLINEAGE_URL", "OPENLINEAGE_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    reset_settings()
    yield tmp_path
    reset_settings()


def test_http_transport_posts_each_event_and_keeps_the_file(
    home: Path, lineage_server: tuple[str, list], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, received = lineage_server
    monkeypatch.setenv("GOVHUB_LINEAGE_TRANSPORT", "http")
    monkeypatch.setenv("GOVHUB_LINEAGE_URL", url)
    reset_settings()

    emit_ingest("START", resource="person", run_id="person-000001-abcd")
    emit_ingest("COMPLETE", resource="person", run_id="person-000001-abcd", summary={"version": 3, "accepted": 5})

    assert [path for path, _ in received] == ["/api/v1/lineage", "/api/v1/lineage"]
    posted = [event for _, event in received]
    assert [e["eventType"] for e in posted] == ["START", "COMPLETE"]
    assert posted[1]["outputs"][0]["facets"]["govhub_version"]["version"] == 3
    source = posted[0]["inputs"][0]
    assert (source["namespace"], source["name"]) == (f"sqlite://{home / 'sources' / 'population.sqlite'}", "person")
    assert [e["eventType"] for e in read_lineage("person", home=home)] == ["COMPLETE", "START"]


def test_dead_endpoint_fails_nothing_and_the_file_still_has_the_event(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("GOVHUB_LINEAGE_TRANSPORT", "http")
    monkeypatch.setenv("GOVHUB_LINEAGE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("GOVHUB_LINEAGE_TIMEOUT", "0.5")
    reset_settings()

    emit_ingest("START", resource="payment", run_id="payment-000001-abcd")

    (event,) = read_lineage("payment", home=home)
    assert event["inputs"][0]["namespace"] == "file"
    assert event["inputs"][0]["name"] == f"{home / 'sources' / 'inbox'}/settlement_*.csv"


def test_http_transport_without_url_names_the_setting(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVHUB_LINEAGE_TRANSPORT", "http")
    reset_settings()
    with pytest.raises(SettingsError, match="GOVHUB_LINEAGE_URL"):
        _ = get_settings().lineage_transport_config


def test_credit_source_is_named_by_base_url_and_endpoint(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVHUB_CREDIT_BASE_URL", "http://credit.example:8701/")
    reset_settings()
    emit_ingest("START", resource="credit_record", run_id="credit_record-000001-abcd")
    (event,) = read_lineage("credit_record", home=home)
    source = event["inputs"][0]
    assert (source["namespace"], source["name"]) == ("http://credit.example:8701", "/api/v1/credit-records")
    assert source["facets"]["govhub_source"]["system"] == "credit"


_EMIT_BOTH = (
    "import sys; from govhub.lineage import emit_deliveries, emit_ingest; "
    "emit_ingest('START', resource='person', run_id='person-000001-abcd'); "
    "emit_deliveries('person', [{'subscription_id': 1, 'department_code': 'rsj', 'mode': 'file', "
    "'status': 'done', 'seconds': 0.1, 'to_version': 0}]); "
    "print('openlineage' in sys.modules)"
)


@pytest.mark.parametrize(("transport", "imported", "events"), [("none", "False", 0), ("file", "True", 3)])
def test_openlineage_is_imported_only_when_a_transport_is_configured(
    home: Path, monkeypatch: pytest.MonkeyPatch, transport: str, imported: str, events: int
) -> None:
    """Lineage off: a fresh process emits nothing and never imports the client (~0.2 CPU s); on: it
    still writes the ingest START and the delivery's START and COMPLETE."""
    import os
    import subprocess
    import sys

    monkeypatch.setenv("GOVHUB_LINEAGE_TRANSPORT", transport)
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", _EMIT_BOTH], cwd=root, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == imported, done.stderr
    lines = (home / "lineage" / "events.jsonl").read_text().splitlines() if events else []
    assert len(lines) == events
    if transport == "none":
        assert not (home / "lineage" / "events.jsonl").exists()
