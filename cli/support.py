"""What every `govhub` command shares: the consoles and the rule that errors are one red line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any

import typer
from rich.console import Console

from core.time import BEIJING
from schemas import GovhubError

__all__ = ["BEIJING_COLUMN", "beijing", "bilingual", "console", "deprecated_alias", "err", "friendly"]

BEIJING_COLUMN = "（北京时间 Beijing time）"


def beijing(moment: datetime | None, *, seconds: bool = False) -> str:
    """A stored moment as Beijing wall time for a table cell (naive = UTC, as SQLite hands it back)."""
    if moment is None:
        return "—"
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


# Rich falls back to 80 columns off a terminal (make, CI, pipes): the run tables need more.
console = Console() if sys.stdout.isatty() else Console(width=160)
err = Console(stderr=True)


def deprecated_alias(value: Any, old_value: Any, *, name: str, old: str, default: Any) -> Any:
    """The value of option `name`, or of its hidden deprecated alias `old` (warned about on stderr).

    Options take the API's names (the contract); an old spelling keeps working for scripts that use it.
    """
    if old_value is None or old_value is False:
        return default if value is None else value
    err.print(f"[yellow]{old} is deprecated: use {name} — {old} 已弃用，请改用 {name}[/]", highlight=False)
    if value is not None and value is not False and value != old_value:
        raise typer.BadParameter(f"{name} and {old} disagree; give {name} only — {name} 与 {old} 不一致，请只用 {name}")
    return old_value


def friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn govhub's own errors into one red line (and its cause) and exit code 1, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GovhubError as e:
            message_zh = getattr(e, "message_zh", None)
            if message_zh:  # Chinese first, the English detail after
                err.print(f"[bold red]错误:[/] {message_zh}", highlight=False)
            err.print(f"[bold red]error:[/] {e}", highlight=False)
            cause = e.__cause__
            if cause is not None and not isinstance(cause, GovhubError):
                err.print(f"[dim]cause: {type(cause).__name__}: {cause}[/]", highlight=False)
            raise typer.Exit(1) from None

    return wrapper


def bilingual(func: Callable[..., Any]) -> Callable[..., Any]:
    """As `friendly`, Chinese first: the error's `message_zh` (when it has one) on the line above the English."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GovhubError as e:
            message_zh = getattr(e, "message_zh", None)
            err.print(f"[bold red]错误：[/]{message_zh or '操作未完成（原因见下行英文说明）'}", highlight=False)
            err.print(f"[bold red]error:[/] {e}", highlight=False)
            cause = e.__cause__
            if cause is not None and not isinstance(cause, GovhubError):
                err.print(f"[dim]cause: {type(cause).__name__}: {cause}[/]", highlight=False)
            raise typer.Exit(1) from None

    return wrapper
