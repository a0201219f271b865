"""FastAPI dependencies shared by the routers: settings and a metadata-store session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from govhub.db import get_engine
from govhub.settings import Settings, get_settings

__all__ = ["SessionDep", "SettingsDep", "get_session"]


def get_session() -> Iterator[Session]:
    """A session per request, committed by the route when it writes."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
