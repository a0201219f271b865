"""The resource catalogue (资源目录) API: list, search, details, versions, lineage and the DCAT export."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from catalog import (
    CatalogError,
    DatasetVersion,
    Resource,
    catalogue_dcat,
    get_resource,
    latest_version,
    lineage,
    list_versions,
    release_date,
    search_resources,
)
from exchange.delivery import deliveries_for_lineage
from web.auth import CurrentDepartment
from web.clock import BeijingTime
from web.deps import SessionDep
from web.problems import problem_from_error

__all__ = [
    "LineagePublic",
    "ResourceDetail",
    "ResourceItemPublic",
    "ResourcePublic",
    "ResourcesPublic",
    "VersionPublic",
    "VersionsPublic",
    "router",
]

router = APIRouter(prefix="/api/catalog", tags=["catalog 资源目录"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "缺少或无效的 API 密钥 — Missing or invalid X-API-Key"},
    404: {"description": "资源不存在 — Unknown resource code"},
}


class ResourceItemPublic(BaseModel):
    """One data item (信息项) of a resource, as its contract defines it."""

    name: str
    label: str = Field(description="信息项名称 (Chinese label)")
    label_en: str
    type: str = Field(description="string, integer, float, decimal(p,s), boolean, date or timestamp")
    pii: str = Field(description="none, personal, identifier or sensitive")
    required: bool
    primary_key: bool


class ResourcePublic(BaseModel):
    """A resource's GB/T 21063 core metadata."""

    code: str = Field(description="资源代码: classification code + 3-digit sequence")
    resource: str = Field(description="The contract's name (used in subscriptions)")
    name: str
    name_en: str
    abstract: str
    classification_code: str
    classification: dict[str, str]
    provider_code: str
    provider_name: str
    format: str
    sharing_type: str = Field(description="无条件共享, 有条件共享 or 不予共享")
    sharing_condition: str
    sharing_method: str
    open_to_public: bool
    open_condition: str
    update_cycle: str
    release_date: BeijingTime | None = Field(description="Time of the first published version")
    related: list[str] = Field(description="Codes of related resources")


class ResourcesPublic(BaseModel):
    """A page of resources."""

    data: list[ResourcePublic]
    count: int


class VersionPublic(BaseModel):
    """One published dataset version (one Delta commit)."""

    version: int
    committed_at: BeijingTime
    run_id: str
    rows_total: int | None
    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    schema_fingerprint: str
    scorecard: dict[str, Any]


class VersionsPublic(BaseModel):
    """A resource's versions, newest first."""

    data: list[VersionPublic]
    count: int


class ResourceDetail(ResourcePublic):
    """A resource with its data items and latest version."""

    items: list[ResourceItemPublic]
    primary_key: list[str]
    latest_version: VersionPublic | None


class JsonLdResponse(JSONResponse):
    """JSON-LD (`application/ld+json`)."""

    media_type = "application/ld+json"


class DcatCatalogPublic(BaseModel):
    """DCAT 资源目录 — a W3C DCAT catalogue in JSON-LD; each dataset's `dct:identifier` is the resource code."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    context: dict[str, Any] = Field(alias="@context", description="JSON-LD 上下文 — the vocabularies used")
    type: str = Field(alias="@type", description="类型 — dcat:Catalog")
    datasets: list[dict[str, Any]] = Field(alias="dcat:dataset", description="数据集 — one per resource")


class LineagePublic(BaseModel):
    """Source system -> resource -> versions -> deliveries."""

    source: dict[str, Any]
    resource: dict[str, Any]
    versions: list[dict[str, Any]]
    deliveries: list[dict[str, Any]]
    deliveries_available: bool


@router.get(
    "/resources",
    summary="查询资源目录 — list or search the catalogue",
    description="List or search the catalogue. `q` matches names, data items (labels too, Chinese substrings "
    "work), provider and classification; `provider` is a department code or name; `classification` a code "
    "prefix or label; `sharing_type` Chinese or unconditional/conditional/not_shared.",
    responses=_ERRORS,
)
def list_resources(
    session: SessionDep,
    department: CurrentDepartment,
    q: str | None = Query(default=None, max_length=100, description="Words to find (关键词)"),
    provider: str | None = Query(default=None, max_length=100, description="Provider department code or name"),
    classification: str | None = Query(default=None, max_length=50, description="Classification code or label"),
    sharing_type: str | None = Query(default=None, max_length=20, description="Sharing type (共享类型)"),
) -> ResourcesPublic:
    found = search_resources(session, q=q, provider=provider, classification=classification, sharing_type=sharing_type)
    first = select(DatasetVersion.resource, func.min(DatasetVersion.committed_at)).group_by(DatasetVersion.resource)
    released = dict(session.execute(first).tuples().all())
    data = [_public(entry, released.get(entry.resource)) for entry in found]
    return ResourcesPublic(data=data, count=len(data))


@router.get(
    "/dcat.jsonld",
    summary="导出资源目录 — the catalogue as DCAT JSON-LD",
    description="The whole catalogue as a W3C DCAT catalogue in JSON-LD (dct:identifier = resource code).",
    response_class=JsonLdResponse,
    responses={401: _ERRORS[401], 200: {"model": DcatCatalogPublic}},
)
def export_dcat(session: SessionDep, department: CurrentDepartment, request: Request) -> JSONResponse:
    return JsonLdResponse(catalogue_dcat(session, base_url=str(request.base_url)))


@router.get(
    "/resources/{code}",
    summary="资源详情 — one resource",
    description="One resource by its code (or contract name), with its data items and latest version.",
    responses=_ERRORS,
)
def read_resource(code: str, session: SessionDep, department: CurrentDepartment) -> ResourceDetail:
    entry = _find(session, code)
    latest = latest_version(session, entry.resource)
    return ResourceDetail(
        **_public(entry, release_date(session, entry)).model_dump(),
        items=[
            ResourceItemPublic(
                name=item.name,
                label=item.label,
                label_en=item.label_en,
                type=item.type,
                pii=item.pii,
                required=item.required,
                primary_key=item.primary_key,
            )
            for item in entry.items
        ],
        primary_key=list(entry.primary_key),
        latest_version=_version(latest) if latest else None,
    )


@router.get(
    "/resources/{code}/versions",
    summary="资源版本 — a resource's versions",
    description="The published dataset versions of a resource, newest first.",
    responses=_ERRORS,
)
def read_versions(code: str, session: SessionDep, department: CurrentDepartment) -> VersionsPublic:
    entry = _find(session, code)
    data = [_version(v) for v in list_versions(session, entry.resource)]
    return VersionsPublic(data=data, count=len(data))


@router.get(
    "/resources/{code}/lineage",
    summary="资源血缘 — a resource's lineage",
    description="Source system -> resource -> versions -> deliveries. The provider department sees every "
    "delivery; another department only the deliveries made to it.",
    responses=_ERRORS,
)
def read_lineage(code: str, session: SessionDep, department: CurrentDepartment) -> LineagePublic:
    entry = _find(session, code)
    only = None if department.code == entry.provider_code else department.code
    return LineagePublic(**lineage(session, entry, department=only, deliveries=deliveries_for_lineage))


def _find(session: SessionDep, code: str) -> Resource:
    try:
        return get_resource(session, code)
    except CatalogError as e:
        raise problem_from_error(e) from e


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _public(entry: Resource, released: datetime | None) -> ResourcePublic:
    return ResourcePublic(
        code=entry.code,
        resource=entry.resource,
        name=entry.name,
        name_en=entry.name_en,
        abstract=entry.abstract,
        classification_code=entry.classification_code,
        classification=dict(entry.classification),
        provider_code=entry.provider_code,
        provider_name=entry.provider_name,
        format=entry.format,
        sharing_type=entry.sharing_type,
        sharing_condition=entry.sharing_condition,
        sharing_method=entry.sharing_method,
        open_to_public=entry.open_to_public,
        open_condition=entry.open_condition,
        update_cycle=entry.update_cycle,
        release_date=_aware(released),
        related=list(entry.related),
    )


def _version(v: DatasetVersion) -> VersionPublic:
    return VersionPublic(
        version=v.version,
        committed_at=_aware(v.committed_at),
        run_id=v.run_id,
        rows_total=v.rows_total,
        rows_inserted=v.rows_inserted,
        rows_updated=v.rows_updated,
        rows_deleted=v.rows_deleted,
        schema_fingerprint=v.schema_fingerprint,
        scorecard=dict(v.scorecard or {}),
    )
