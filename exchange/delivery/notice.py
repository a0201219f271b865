"""Masked fields said out loud: which granted fields a subscription receives masked, why, and how to ask.

A department granted personal-information items without PII access receives them masked
(`exchange.delivery.masking`). The notice names each such field (label from the contract), how it is
masked, the reason (no PII access granted) and how to ask for the clear values (apply with
`pii_access`, which the provider department decides), Chinese first. It is derived from the contract
(`schemas/`) and the grant, so the application's answer, each delivery and each pulled page say the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from catalog.sharing_rules import REGULATION
from exchange.delivery.masking import delivered_columns, masking_kind
from schemas import Contract

__all__ = ["MASKING_RULE", "MaskedField", "masked_fields", "masking_notice"]

MASKING_RULE = "pii_masking"
"""The hub's rule: personal information is delivered masked unless the provider grants `pii_access`."""

MaskingKind = Literal["pseudonym", "partial", "county", "initial", "withheld"]
_HOW = {  # kind -> (Chinese, English)
    "pseudonym": ("假名化：本部门专用的密钥假名，可用于更新，不能还原", "pseudonym: a department-specific keyed hash"),
    "partial": ("部分隐藏：保留前 6 位和后 2 位", "partly hidden: the first 6 and last 2 characters kept"),
    "county": ("截断：只保留到区县", "truncated after the county"),
    "initial": ("部分隐藏：只保留首字，其余为 *", "partly hidden: the first character kept, the rest *"),
    "withheld": ("不提供：值为空（null）", "withheld: null"),
}


@dataclass(frozen=True)
class MaskedField:
    """One granted field delivered masked: its names, its PII class and how it is masked."""

    name: str
    label: str
    label_en: str
    pii: str
    masking: str
    masking_zh: str
    masking_en: str


def masked_fields(contract: Contract, fields: Sequence[str], *, pii_access: bool) -> list[MaskedField]:
    """The fields a grant of `fields` receives masked (contract order; none with `pii_access`)."""
    if pii_access:
        return []
    found = []
    for name in delivered_columns(contract, fields):
        field = contract.field(name)
        kind = masking_kind(field, primary_key=name in contract.primary_key)
        if kind is None:
            continue
        zh, en = _HOW[kind]
        found.append(MaskedField(name, field.label, field.label_en, field.pii, kind, zh, en))
    return found


def masking_notice(
    contract: Contract, fields: Sequence[str], *, pii_access: bool, subscription_id: int | None = None
) -> dict[str, Any] | None:
    """What is masked, why and how to ask for it (None when nothing is): for answers, manifests and pages."""
    masked = masked_fields(contract, fields, pii_access=pii_access)
    if not masked:
        return None
    names = ", ".join(f.name for f in masked)
    labels = "、".join(f"{f.label}（{f.name}）" for f in masked)
    provider = contract.provider.get("name", "")
    granted = f"subscription #{subscription_id}" if subscription_id is not None else "this application"
    granted_zh = f"订阅 #{subscription_id} " if subscription_id is not None else "本申请"
    return {
        "fields": [asdict(f) for f in masked],
        "reason": f"{granted} has no PII access (pii_access=false): personal information is delivered masked",
        "reason_zh": f"{granted_zh}未获准访问未脱敏个人信息（pii_access=false），个人信息按规则脱敏交付",
        "how_to_ask": f"to receive {names} unmasked, apply for {contract.resource} again with pii_access=true "
        '(API: POST /api/subscriptions with "pii_access": true; CLI: govhub subscription apply --pii-access), '
        f"stating purpose and legal basis; the provider department {provider} decides",
        "how_to_ask_zh": f"如需未脱敏的{labels}，请以 pii_access=true 重新提出共享申请（接口：POST /api/subscriptions，"
        f'"pii_access": true；命令行：govhub subscription apply --pii-access），写明用途和法律依据，由提供部门'
        f"{provider}审批",
        "rule": MASKING_RULE,
        "rule_text": "personal information is delivered masked unless the provider department grants unmasked "
        f"access (pii_access) on an application ({REGULATION}, 共享申请)",
        "rule_text_zh": f"个人信息默认脱敏交付；获取未脱敏个人信息须在共享申请中提出（pii_access）并经提供部门同意"
        f"（{REGULATION}，共享申请）",
    }
