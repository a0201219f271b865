"""Refresh docs/screenshots: every monitor page, the landing and API docs pages, the check page and a printed
proof, as headless Chromium draws them with the network cut, signed in as an administrator.

    make screenshots            # or: .venv/bin/python tests/web/take_screenshots.py [folder]

The demo hub: 300 persons through the real pipeline with 2 % bad records, two simulated days of changes
(three versions of each resource), their deliveries, verification
events with case numbers, purposes, items and addresses, a bad-key refusal, then the credit platform goes
away and its next ingest fails (so the overview and the alerts show a failed run in words).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(HERE), str(ROOT)]

from monitor_browser_support import CHROMIUM, chromium, serve, serve_as_admin  # noqa: E402

PAGES = {
    "landing.png": "/",
    "api-docs.png": "/docs",
    "redoc.png": "/redoc",
    "monitor-overview.png": "/monitor",
    "monitor-exchanges.png": "/monitor/exchanges",
    "monitor-quality.png": "/monitor/quality?resource=person",
    "monitor-quarantine.png": "/monitor/quarantine",
    "monitor-sharing.png": "/monitor/sharing",
    "monitor-catalogue.png": "/monitor/catalogue",
    "monitor-lineage.png": "/monitor/lineage?resource=person",
    "monitor-alerts.png": "/monitor/alerts",
    "monitor-log.png": "/monitor/log",
    "check.png": "/check",
}


def build_demo(root: Path) -> dict[str, str]:
    """The demo hub under `root` (GOVHUB_HOME is set to it); returns the pages that need its ids."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from catalog import Subscription
    from govhub.db import get_engine, migrate
    from govhub.demo_sharing import deliver_all, seed_subscriptions
    from govhub.exchange_log import hub_log
    from govhub.models import IngestRun
    from govhub.pipeline import ingest_order, run_ingest
    from govhub.settings import reset_settings
    from schemas import GovhubError
    from simulators import CreditSimulator, build_all, tick_all

    sources = build_all(root / "sources", size=300, seed=11, bad_share=0.02)
    os.environ["GOVHUB_HOME"] = str(root / "hub")
    with CreditSimulator(sources.credit_db, token=sources.token, rate_limit=1_000) as credit:
        for name, value in {
            "POPULATION_URL": sources.population_url,
            "LEGAL_ENTITY_URL": sources.legal_entity_url,
            "CREDIT_BASE_URL": credit.base_url,
            "CREDIT_TOKEN": sources.token,
            "CREDIT_TIMEOUT": "5",
            "CREDIT_MAX_RETRIES": "0",
            "NONTAX_INBOX": str(sources.inbox),
        }.items():
            os.environ[f"GOVHUB_{name}"] = value
        reset_settings()
        migrate()
        seed_subscriptions(root / "hub")
        resources = [run_ingest(resource)["resource"] for resource in ingest_order()]
        deliver_all(resources)
        for day in (1, 2):  # two simulated days of changes: versions 1 and 2, so the charts show trends
            tick_all(sources, day=day)
            deliver_all([run_ingest(resource)["resource"] for resource in ingest_order()])
    with contextlib.suppress(GovhubError):  # the platform is gone: the run is marked failed, as pages show
        run_ingest("credit_record")
    hub_log().append_many(
        [
            {
                "type": "verification",
                "source": "hub",
                "target": "client:bdc-yiyang",
                "client": "bdc-yiyang",
                "resource": "person",
                "purpose": "不动产转移登记",
                "case_number": f"BDC-2026-{i:04d}",
                "details": {"item": "person_alive", "status": 200, "address": f"10.8.1.{20 + i}"},
            }
            for i in range(3)
        ]
        + [
            {
                "type": "denial",
                "source": "hub",
                "target": "address:10.8.1.99",
                "outcome": "denied",
                "error_code": "invalid_key",
                "rows": 4,
                "details": {
                    "address": "10.8.1.99",
                    "count": 4,
                    "keys": [{"key_fingerprint": "9f86d081884c7d65", "key_id": "bdc-yiyang"}],
                },
            },
            {
                "type": "client_error",
                "source": "hub",
                "target": "department:114309000060124167",
                "department": "114309000060124167",
                "outcome": "invalid",
                "error_code": "invalid_request",
                "details": {"method": "POST", "path": "/api/subscriptions", "status": 422, "address": "10.8.2.7"},
            },
        ]
    )
    with Session(get_engine()) as session:
        application = session.scalar(select(Subscription.id).order_by(Subscription.id))
        run_id = session.scalar(
            select(IngestRun.run_id).where(IngestRun.resource == "person").order_by(IngestRun.seq).limit(1)
        )
    return {"monitor-application.png": f"/monitor/sharing/{application}", "monitor-run.png": f"/monitor/runs/{run_id}"}


def proof_page(root: Path, folder: Path, profile: Path) -> None:
    """A printed proof (the issuing body, the check address, the QR code linking to the check page)."""
    from fastapi.testclient import TestClient

    from tests.exchange.verify_support import P_ZHANG, body, build_hub
    from web import create_app
    from web.routes.verify import get_verification_service

    os.environ["GOVHUB_PUBLIC_BASE_URL"] = "https://sjgx.yiyang.example"  # the address printed and in the QR
    from govhub.settings import reset_settings

    reset_settings()
    served = build_hub(root / "verify", algorithm="sm2")
    app = create_app()
    app.dependency_overrides[get_verification_service] = lambda: served.service
    with TestClient(app) as client:
        answer = client.post(
            "/api/verify/person_alive",
            headers={"X-Client-Key": served.keys["all"]},
            json=body({"id_number": P_ZHANG}),
        )
        link = answer.headers["link"].split(">", 1)[0].lstrip("<")
    with serve(app) as base:
        chromium(f"{base}{link}", profile / "proof", screenshot=folder / "verify-proof.png")
    served.service.writer.close()


def main(folder: Path) -> None:
    assert CHROMIUM is not None, "chromium is not installed (apt-get install -y chromium)"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="govhub-shots-") as tmp:
        root = Path(tmp)
        pages = {**PAGES, **build_demo(root)}
        with serve_as_admin() as base:
            docs = chromium(f"{base}/monitor/quality?resource=person", root / "p0")
            found = re.search(r'href="(/monitor/data-docs/validations/[^"]+)"', docs)
            pages["monitor-data-docs.png"] = "/monitor/data-docs/index.html"
            if found:
                pages["monitor-data-docs-validation.png"] = found.group(1)
            for i, (name, path) in enumerate(sorted(pages.items())):
                chromium(f"{base}{path}", root / f"p{i + 1}", screenshot=folder / name)
                print(f"{name:36} {path}")
        proof_page(root, folder, root)
        print(f"{'verify-proof.png':36} /verify/answer/...")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")
