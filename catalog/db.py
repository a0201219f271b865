"""The shared declarative base now lives in `core.db`; this module keeps the old import path working."""

from core.db import Base
from core.time import utcnow

__all__ = ["Base", "utcnow"]
