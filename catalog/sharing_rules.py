"""The sharing regulation's time limits, configurable, with their source named.

Since 2025-08-01 sharing between departments follows 《政务数据共享条例》(国务院令第809号), which
builds on 国发〔2016〕51号: an application states what the data is for and on what basis, the
provider answers within a time limit and gives reasons for a refusal, and a dispute goes to the
sharing authority (共享主管部门; in the hub: its administrators), which settles it within its own
time limit. The article numbers and day counts below could not be checked against the published
text and are marked UNCONFIRMED; each is a setting (`GOVHUB_SHARING_*`) so a city can correct it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from catalog.errors import CatalogError

__all__ = [
    "ANSWER_SOURCE",
    "CORRECTION_SOURCE",
    "DISPUTE_SOURCE",
    "REGULATION",
    "STATEMENTS",
    "SharingLimits",
    "check_statements",
    "configure_limits",
    "current_limits",
]

REGULATION = "《政务数据共享条例》(国务院令第809号, 2025-08-01)"
# the provider answers an application for 有条件共享 data within N working days
ANSWER_SOURCE = f"{REGULATION} 共享申请答复时限 (article and value UNCONFIRMED; 国发〔2016〕51号 第十四条: 10)"
# the sharing authority settles a dispute about a refusal within N working days
DISPUTE_SOURCE = f"{REGULATION} 共享争议协调处理 (article and value UNCONFIRMED)"
# the provider checks a reported error (校核纠错) and answers within N working days; the regulation
# sets up the 校核纠错 mechanism (its official summary says so), but neither the article nor a day
# count could be read in the published text: the 10 below is the hub's default, not the law's
CORRECTION_SOURCE = f"{REGULATION} 校核纠错 (article and time limit UNCONFIRMED; hub default 10)"


@dataclass(frozen=True)
class SharingLimits:
    """Time limits in working days (Beijing calendar, see `catalog.workdays`)."""

    answer_working_days: int = 10  # ANSWER_SOURCE: unconfirmed, kept at 51号's 10
    dispute_working_days: int = 10  # DISPUTE_SOURCE: unconfirmed
    correction_working_days: int = 10  # CORRECTION_SOURCE: unconfirmed, the hub's default


_limits = SharingLimits()


def current_limits() -> SharingLimits:
    """The time limits in force (defaults unless `configure_limits` was called)."""
    return _limits


def configure_limits(
    *,
    answer_working_days: int | None = None,
    dispute_working_days: int | None = None,
    correction_working_days: int | None = None,
) -> SharingLimits:
    """Set the time limits from configuration (govhub calls this from its settings); each must be >= 1."""
    global _limits
    given = (
        ("answer_working_days", answer_working_days),
        ("dispute_working_days", dispute_working_days),
        ("correction_working_days", correction_working_days),
    )
    changes = {k: v for k, v in given if v is not None}
    for name, value in changes.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1 working day, got {value}")
    _limits = replace(_limits, **changes)
    return _limits


# What an application states (《政务数据共享条例》, 共享申请 — article UNCONFIRMED): the purpose
# (用途), its legal basis (依据), the data items (fields, checked against the contract), the scope of
# use (使用范围/场景) and the term of use (使用期限). English name, Chinese label, what to write.
STATEMENTS: tuple[tuple[str, str, str], ...] = (
    ("purpose", "用途", "what the data is for"),
    ("legal_basis", "依据", "the law or policy the department acts under"),
    ("scope", "使用范围", "where and by whom the data will be used (system, business, staff)"),
    ("valid_until", "使用期限", "the last day the data may be used (ISO date, not in the past)"),
)


def check_statements(
    *,
    resource: str,
    purpose: str | None,
    legal_basis: str | None,
    scope: str | None,
    valid_until: date | None,
    today: date,
    strict: bool,
) -> None:
    """Raise a bilingual `CatalogError` naming the first missing or wrong statement.

    Purpose and legal basis are always required; scope and term when `strict` (every user-facing
    entry: API and CLI) or when given. A term in the past is refused.
    """
    values = {"purpose": purpose, "legal_basis": legal_basis, "scope": scope, "valid_until": valid_until}
    for name, label_zh, hint in STATEMENTS:
        value = values[name]
        needed = strict or name in ("purpose", "legal_basis")
        missing = value is None or (isinstance(value, str) and not value.strip())
        if missing and (needed or value is not None):
            raise CatalogError(
                f"{name} is required: state {hint} ({REGULATION}, 共享申请)",
                message_zh=f"共享申请必须写明{label_zh}（{name}）",
                resource=resource,
                field=name,
            )
    if valid_until is not None and valid_until < today:
        raise CatalogError(
            f"valid_until {valid_until.isoformat()} is in the past: state the last day the data may be used",
            message_zh=f"使用期限（valid_until）{valid_until.isoformat()} 已过，请填写今后的日期",
            resource=resource,
            field="valid_until",
        )
