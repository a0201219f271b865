"""Liveness and readiness for load balancers and compose health checks."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from web.deps import SessionDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(session: SessionDep) -> dict[str, str]:
    """200 when the app can reach its metadata store."""
    session.execute(text("SELECT 1"))
    return {"status": "ok"}
