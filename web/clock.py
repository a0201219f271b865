"""One clock on every page and in every answer: Beijing time, ISO 8601 with +08:00 in JSON.

Stored moments are UTC (SQLite hands them back naive, meaning UTC); users read Beijing time.
`BeijingTime` is the type API models declare for a moment; `beijing_text` is what pages print.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, cast

from pydantic import AfterValidator

from core.time import BEIJING, to_beijing

__all__ = ["BEIJING", "BEIJING_LABEL", "BeijingTime", "beijing_iso", "beijing_json", "beijing_text", "to_beijing"]

BEIJING_LABEL = {"zh": "北京时间", "en": "Beijing time"}


def beijing_iso(moment: datetime | None) -> str | None:
    """ISO 8601 with the +08:00 offset (never `Z`, never naive), seconds precision."""
    return None if moment is None else to_beijing(moment).isoformat(timespec="seconds")


def beijing_text(moment: datetime | str | None, *, seconds: bool = False) -> str:
    """`2026-05-01 16:00` in Beijing time for a page or a terminal; `—` for no moment."""
    if moment is None or moment == "":
        return "—"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    return to_beijing(moment).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


BeijingTime = Annotated[datetime, AfterValidator(to_beijing)]
"""A moment an API model returns: converted to Beijing time, so JSON reads `2026-05-01T16:00:00+08:00`."""


def beijing_json(value: Any) -> Any:
    """`value` with every datetime inside (dicts, lists, tuples) as Beijing ISO 8601 text, for JSON answers."""
    if isinstance(value, datetime):
        return beijing_iso(value)
    if isinstance(value, dict):
        return {key: beijing_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [beijing_json(item) for item in value]
    return value


def beijing_document(value: dict[str, Any]) -> dict[str, Any]:
    """A JSON answer's body with every moment inside as Beijing ISO 8601 text."""
    return cast(dict[str, Any], beijing_json(value))
