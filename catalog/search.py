"""Finding resources in the catalogue by words (Chinese or English), provider, classification, sharing type."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from catalog.resources import Resource, ResourceItem

__all__ = ["SHARING_TYPE_NAMES", "search_resources"]

# English names accepted for the 国发〔2016〕51号 sharing types (the catalogue stores the Chinese)
SHARING_TYPE_NAMES = {"unconditional": "无条件共享", "conditional": "有条件共享", "not_shared": "不予共享"}


def search_resources(
    session: Session,
    *,
    q: str | None = None,
    provider: str | None = None,
    classification: str | None = None,
    sharing_type: str | None = None,
) -> list[Resource]:
    """Resources matching every given filter, ordered by code.

    Args:
        q: a substring (case-insensitive) of the resource's name (zh/en), contract name, code,
            provider, classification labels, or any data item's name or label (zh/en) — "身份"
            finds 人口基础信息 through its item 公民身份号码.
        provider: the provider department's code or a substring of its name.
        classification: a classification code prefix ("1", "101", "101001") or a label
            (基础, 人口, 人口基本信息).
        sharing_type: 无条件共享/有条件共享/不予共享 or unconditional/conditional/not_shared.
    """
    query = select(Resource).options(selectinload(Resource.items)).order_by(Resource.code)
    if q and q.strip():
        pattern = f"%{_escape(q.strip())}%"
        items = select(ResourceItem.resource_code).where(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (ResourceItem.name, ResourceItem.label, ResourceItem.label_en)
                )
            )
        )
        query = query.where(
            or_(
                *(
                    column.ilike(pattern, escape="\\")
                    for column in (
                        Resource.name,
                        Resource.name_en,
                        Resource.resource,
                        Resource.code,
                        Resource.provider_name,
                        Resource.provider_code,
                        Resource.classification_code,
                    )
                ),
                Resource.code.in_(items),
                _classification_label_matches(pattern),
            )
        )
    if provider and provider.strip():
        value = provider.strip()
        query = query.where(
            or_(Resource.provider_code == value, Resource.provider_name.ilike(f"%{_escape(value)}%", escape="\\"))
        )
    if classification and classification.strip():
        value = classification.strip()
        if value.isdigit():
            query = query.where(Resource.classification_code.startswith(value, autoescape=True))
        else:
            query = query.where(_classification_label_equals(value))
    if sharing_type and sharing_type.strip():
        value = sharing_type.strip()
        query = query.where(Resource.sharing_type == SHARING_TYPE_NAMES.get(value, value))
    return list(session.scalars(query))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _labels():  # type: ignore[no-untyped-def]
    return [Resource.classification[key].as_string() for key in ("class", "item", "category")]


def _classification_label_matches(pattern: str):  # type: ignore[no-untyped-def]
    return or_(*(label.ilike(pattern, escape="\\") for label in _labels()))


def _classification_label_equals(value: str):  # type: ignore[no-untyped-def]
    return or_(*(label == value for label in _labels()))
