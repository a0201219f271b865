"""Build the FastAPI app; each room's router is included here and nowhere else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from govhub.sharing_disputes import apply_sharing_limits
from web.limits import BodyLimit
from web.maintenance import lifespan as _log_maintenance
from web.openapi import install_openapi
from web.refusals import install_refusal_logging
from web.routes import (
    access_record,
    catalog,
    corrections,
    deliveries,
    disputes,
    docs,
    health,
    home,
    monitor,
    monitor_approvals,
    monitor_corrections,
    monitor_quality,
    monitor_signin,
    problems,
    subscriptions,
    targets,
)
from web.routes import verify as verify_routes
from web.security import SecurityHeaders

__all__ = ["create_app"]


@asynccontextmanager
async def _follow_the_lake(app: FastAPI) -> AsyncIterator[None]:
    """Keep this host's serving stores at the lake's versions (GOVHUB_SERVING_REFRESH_SECONDS; off when 0)."""
    from govhub.serving_runner import ServingFollower
    from govhub.settings import get_settings

    interval = get_settings().serving_refresh_interval
    follower = ServingFollower(interval) if interval > 0 else None
    if follower is not None:
        follower.start()
    try:
        yield
    finally:
        if follower is not None:
            follower.stop()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's background work: following the lake, and the exchange log's checkpoints and rollups."""
    async with _follow_the_lake(app), _log_maintenance(app):
        yield


def create_app() -> FastAPI:
    """The govhub web app (OpenAPI at /docs)."""
    app = FastAPI(
        title="govhub",
        description="益阳市政务数据共享交换平台 — city data exchange and sharing hub",
        version="0.1.0",
        docs_url=None,  # served by web.routes.docs from the hub's own files: the intranet has no CDN
        redoc_url=None,
        lifespan=_lifespan,
    )
    apply_sharing_limits()  # GOVHUB_SHARING_*_WORKING_DAYS: the answer and dispute time limits
    app.include_router(home.router)
    app.include_router(docs.router)
    app.include_router(problems.router)
    app.include_router(health.router)
    app.include_router(verify_routes.router)
    app.include_router(catalog.router)
    app.include_router(subscriptions.router)
    app.include_router(disputes.router)
    app.include_router(access_record.router)
    app.include_router(corrections.router)
    app.include_router(deliveries.router)
    app.include_router(targets.router)
    app.include_router(targets.admin_router)
    app.include_router(monitor_signin.router)
    app.include_router(monitor.router)
    app.include_router(monitor_approvals.router)
    app.include_router(monitor_quality.router)
    app.include_router(monitor_corrections.router)
    install_refusal_logging(app)
    install_openapi(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)  # outermost: every answer carries the headers, refusals included
    app.mount("/static", StaticFiles(directory=str(Path(__file__).resolve().parent / "static")), name="static")
    return app
