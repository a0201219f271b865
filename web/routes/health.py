"""Liveness and readiness for load balancers and compose health checks."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import text

from web.deps import SessionDep

router = APIRouter(tags=["health 健康检查"])


class HealthPublic(BaseModel):
    """健康状态 — the app is up and reaches its metadata store."""

    status: Literal["ok"] = Field(description="状态 — ok")


@router.get(
    "/healthz",
    summary="健康检查 — liveness and readiness",
    description="200 when the app can reach its metadata store (a 500 problem otherwise).",
)
def healthz(session: SessionDep) -> HealthPublic:
    session.execute(text("SELECT 1"))
    return HealthPublic(status="ok")
