"""FastAPI dependencies shared by the routers: settings and a metadata-store session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path
from sqlalchemy.orm import Session

from govhub.db import get_engine
from govhub.settings import Settings, get_settings

__all__ = ["MAX_ROW_ID", "RowId", "SessionDep", "SettingsDep", "get_session"]

MAX_ROW_ID = 2_147_483_647
"""Largest id a metadata-store row can have (a 32-bit INTEGER column); larger path ids answer 422, not 500."""


def get_session() -> Iterator[Session]:
    """A session per request, committed by the route when it writes."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="Row id (1..2147483647)")]
