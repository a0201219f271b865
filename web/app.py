"""Build the FastAPI app; each room's router is included here and nowhere else."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from web.limits import BodyLimit
from web.refusals import install_refusal_logging
from web.routes import catalog, deliveries, docs, health, home, monitor, monitor_approvals, subscriptions
from web.routes import verify as verify_routes

__all__ = ["create_app"]


def create_app() -> FastAPI:
    """The govhub web app (OpenAPI at /docs)."""
    app = FastAPI(
        title="govhub",
        description="益阳市政务数据共享交换平台 — city data exchange and sharing hub",
        version="0.1.0",
        docs_url=None,  # served by web.routes.docs from the hub's own files: the intranet has no CDN
        redoc_url=None,
    )
    app.include_router(home.router)
    app.include_router(docs.router)
    app.include_router(health.router)
    app.include_router(verify_routes.router)
    app.include_router(catalog.router)
    app.include_router(subscriptions.router)
    app.include_router(deliveries.router)
    app.include_router(monitor.router)
    app.include_router(monitor_approvals.router)
    install_refusal_logging(app)
    app.add_middleware(BodyLimit)
    app.mount("/static", StaticFiles(directory=str(Path(__file__).resolve().parent / "static")), name="static")
    return app
