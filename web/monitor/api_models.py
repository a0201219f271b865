"""Response models of the monitor's JSON (`/monitor/api/...`): the documented members of each answer.

Rows keep any further column a query adds (`extra="allow"`), so a new column reaches the charts
before its documentation does; the members named here are always present.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChainSummary",
    "MonitorAlerts",
    "MonitorCorrections",
    "MonitorExchanges",
    "MonitorLog",
    "MonitorOverview",
    "MonitorQuality",
    "MonitorSharing",
    "OverviewRow",
    "QualityPoint",
    "SharingDisputes",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class OverviewRow(_Open):
    """One source system and resource: last run, counts, version, freshness."""

    system: str = Field(description="源系统 — the source system")
    resource: str = Field(description="资源 — the resource")
    overdue_hours: float | None = Field(default=None, description="超期小时 — hours past the expected update")
    error: str | None = Field(default=None, description="失败原因 — the last failed run's message")


class MonitorOverview(BaseModel):
    """监控总览 — per source system and resource."""

    data: list[OverviewRow]


class QualityPoint(_Open):
    """One published version's six GB/T 36344 dimension scores."""

    version: int = Field(description="版本 — the dataset version")
    committed_at: str | None = Field(description="发布时间 — Beijing time, ISO 8601")
    scores: dict[str, float | None] = Field(description="质量得分 — per dimension, 0..1")


class MonitorQuality(BaseModel):
    """质量趋势 — per resource, oldest version first."""

    data: dict[str, list[QualityPoint]]


class MonitorExchanges(_Open):
    """交换量 — event counts per time bucket by source, subscriber department and verification client."""

    buckets: list[str] = Field(description="时间段 — Beijing days, or hours when the window is short")
    by_source: dict[str, Any] = Field(description="按源系统 — counts per bucket")
    by_department: dict[str, Any] = Field(description="按部门 — counts per bucket")
    by_client: dict[str, Any] = Field(description="按审批系统 — counts per bucket")
    totals: dict[str, int] = Field(description="合计 — per event type")
    events: int = Field(description="事件数 — in the window")


class SharingDisputes(BaseModel):
    """共享争议 — open disputes (age, due date, working days left) and the newest decisions."""

    open: list[dict[str, Any]] = Field(description="待处理 — oldest first, `overdue` and `working_days_left`")
    decided: list[dict[str, Any]] = Field(description="已处理 — newest first, with outcome and reasons")


class MonitorSharing(BaseModel):
    """共享与交付 — applications awaiting a decision, sharing disputes and the most recent deliveries."""

    pending: list[dict[str, Any]] = Field(description="待审批 — oldest first, `overdue` flagged")
    deliveries: list[dict[str, Any]] = Field(description="最近交付 — newest first")
    disputes: SharingDisputes = Field(description="共享争议 — open ones and decisions")


class ChainSummary(_Open):
    """交换日志链 — whether the exchange log verifies."""

    ok: bool = Field(description="是否完好 — true when the chain verifies")
    events_checked: int = Field(description="已核对事件数 — events checked")


class MonitorAlerts(BaseModel):
    """告警 — current alerts and the chain's state."""

    alerts: list[dict[str, Any]]
    chain: ChainSummary


class MonitorLog(_Open):
    """交换日志 — one page of events, newest first."""

    total: int = Field(description="总数 — matches, counted up to 10,000")
    total_capped: bool = Field(description="总数封顶 — more than 10,000 matched")
    next_before: int | None = Field(description="下一页 — pass as `before` for older events")
    prev_after: int | None = Field(description="上一页 — pass as `after` for newer events")
    data: list[dict[str, Any]]


class CorrectionProvider(_Open):
    """One providing department's correction flags by outcome."""

    provider: str = Field(description="提供部门 — the providing department, by name")
    overdue: int = Field(description="超期 — open flags past their due date")
    oldest_open_days: float | None = Field(description="最久未答天数 — age of the oldest open flag, days")


class MonitorCorrections(BaseModel):
    """数据纠错 — per providing department the flags by outcome, and every flag the viewer may see."""

    providers: list[CorrectionProvider]
    flags: list[dict[str, Any]]
