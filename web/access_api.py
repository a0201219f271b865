"""The access record's API models (what `GET /api/access-record` answers) and the masked subject."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from exchange.access import AccessRecord
from web.clock import BeijingTime

__all__ = ["AccessDeliveryPublic", "AccessQueryPublic", "AccessRecordPublic", "mask_subject", "record_public"]


class AccessQueryPublic(BaseModel):
    """A verification answer about the subject."""

    at: BeijingTime = Field(description="时间（北京时间）")
    client: str = Field(description="审批系统代码")
    client_name: str = Field(description="查询单位（审批系统）")
    item: str = Field(description="核验事项代码")
    item_name: str = Field(description="核验事项")
    resource: str | None = Field(description="核验所读的数据资源")
    case_number: str | None = Field(description="办件编号")
    purpose: str | None = Field(description="用途")
    answer: dict[str, Any] = Field(description='答复：{"match": bool} | {"found": false} | {"fields": [...]}')


class AccessDeliveryPublic(BaseModel):
    """A delivery of versions that carried the subject's record to a department."""

    at: BeijingTime | None = Field(description="交付时间（北京时间）")
    department: str = Field(description="接收部门代码")
    department_name: str = Field(description="接收部门")
    resource: str = Field(description="数据资源")
    subscription_id: int
    purpose: str = Field(description="共享用途（申请时所述）")
    mode: str = Field(description="交付方式：file / database / api")
    from_version: int | None = Field(description="起始版本（不含）；空为全量")
    to_version: int = Field(description="截至版本")


class AccessRecordPublic(BaseModel):
    """Everything the hub exchanged about one subject, newest first."""

    subject_kind: Literal["person", "entity"]
    subject_masked: str = Field(description="脱敏证件号码")
    queries: list[AccessQueryPublic]
    deliveries: list[AccessDeliveryPublic]
    truncated: bool = Field(description="超过 1000 条时仅返回最近的部分")
    print_url: str = Field(description="可打印页面地址（30 分钟内有效）")


def mask_subject(subject: str) -> str:
    """`430902**********34`: enough for the person to recognise their own number, not to read it."""
    value = subject.strip().upper()
    return value[:6] + "*" * max(0, len(value) - 8) + value[-2:] if len(value) > 8 else "*" * len(value)


def record_public(record: AccessRecord, *, subject: str, print_path: str) -> AccessRecordPublic:
    """The record as the API answers it."""
    return AccessRecordPublic(
        subject_kind=record.kind,
        subject_masked=mask_subject(subject),
        queries=[
            AccessQueryPublic(
                at=q.at,
                client=q.client,
                client_name=q.client_name,
                item=q.item,
                item_name=q.item_name,
                resource=q.resource,
                case_number=q.case_number,
                purpose=q.purpose,
                answer=q.answer,
            )
            for q in record.queries
        ],
        deliveries=[
            AccessDeliveryPublic(
                at=d.at,
                department=d.department,
                department_name=d.department_name,
                resource=d.resource,
                subscription_id=d.subscription_id,
                purpose=d.purpose,
                mode=d.mode,
                from_version=d.from_version,
                to_version=d.to_version,
            )
            for d in record.deliveries
        ],
        truncated=record.truncated,
        print_url=print_path,
    )
