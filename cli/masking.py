"""Masked fields in the command's output: the cell naming them and the notice saying why and how to ask."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cli.support import console

__all__ = ["masked_cell", "print_masking"]


def masked_cell(resource: str, fields: Sequence[str], *, pii_access: bool) -> str:
    """`性别(gender)、出生日期(birth_date)`: the granted fields delivered masked, or empty."""
    from exchange.delivery.notice import masked_fields
    from schemas import load_contract

    masked = masked_fields(load_contract(resource), fields, pii_access=pii_access)
    return "、".join(f"{f.label}({f.name})" for f in masked)


def print_masking(resource: str, fields: Sequence[str], *, pii_access: bool, subscription_id: int | None) -> None:
    """The masking notice under a table, Chinese first: which fields, why, and how to ask for them."""
    from exchange.delivery.notice import masking_notice
    from schemas import load_contract

    notice: dict[str, Any] | None = masking_notice(
        load_contract(resource), fields, pii_access=pii_access, subscription_id=subscription_id
    )
    if notice is None:
        return
    labels = "、".join(f"{f['label']}({f['name']})：{f['masking_zh']}" for f in notice["fields"])
    console.print(f"[yellow]脱敏字段 masked fields[/]: {labels}", highlight=False)
    console.print(f"  {notice['reason_zh']} — {notice['reason']}", highlight=False)
    console.print(f"  {notice['how_to_ask_zh']}", highlight=False)
    console.print(f"  {notice['how_to_ask']}", highlight=False)
