"""The masking notice in API answers: which granted fields arrive masked, why, and how to ask for them.

Derived by `exchange.delivery.notice` from the contract (`schemas/`) and the grant; the application's
answer, the delivery records and every pulled page carry it, Chinese first.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from exchange.delivery.notice import masking_notice
from schemas import load_contract

__all__ = ["MaskedFieldPublic", "MaskingNoticePublic", "masking_for"]


class MaskedFieldPublic(BaseModel):
    """脱敏字段 — one granted field delivered masked."""

    name: str = Field(description="字段 — the field's name")
    label: str = Field(description="名称 — its Chinese label (from the contract)")
    label_en: str
    pii: str = Field(description="个人信息类别 — the contract's PII class: identifier, personal or sensitive")
    masking: str = Field(description="脱敏方式 — pseudonym, partial, county, initial or withheld")
    masking_zh: str = Field(description="脱敏方式说明 — how it is masked, in Chinese")
    masking_en: str


class MaskingNoticePublic(BaseModel):
    """脱敏说明 — what is masked, why (no PII access granted) and how to ask for the clear values."""

    fields: list[MaskedFieldPublic]
    reason: str
    reason_zh: str = Field(description="原因 — why these fields are masked")
    how_to_ask: str
    how_to_ask_zh: str = Field(description="申请方式 — how to ask for them unmasked")
    rule: str = Field(description="规则 — the hub's rule (`pii_masking`)")
    rule_text: str
    rule_text_zh: str = Field(description="规则说明 — the rule and the regulation it rests on")


def masking_for(
    resource: str, fields: Sequence[str], *, pii_access: bool, subscription_id: int | None = None
) -> tuple[list[str], MaskingNoticePublic | None]:
    """(names of the masked fields, the notice) of a grant; ([], None) when nothing is masked."""
    notice = masking_notice(load_contract(resource), fields, pii_access=pii_access, subscription_id=subscription_id)
    if notice is None:
        return [], None
    public = MaskingNoticePublic(**notice)
    return [f.name for f in public.fields], public
