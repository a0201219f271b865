"""GX Data Docs of the hub, built from the stored suite results and served offline under /monitor/data-docs.

The site lives in `<GOVHUB_HOME>/quality/data_docs` and is brought up to date (by `quality.build_data_docs`)
when the stored results changed since its last build: a page view after a new version, or
`govhub monitor data-docs` ahead of time. New versions only render their own pages and the index; any
other change (a version removed or changed) rebuilds the site whole. One build at a time per process; values
GX quotes are masked first (`web.monitor.expectations`). GX's CDN assets are the hub's vendored copies in
`web/static/vendor/datadocs/` (MIT: Bootstrap, jQuery, bootstrap-table; Font Awesome Free: CC BY 4.0 /
SIL OFL 1.1 / MIT), the rest are removed, so the pages load nothing from outside.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException
from fastapi.params import Path as PathParam
from fastapi.responses import FileResponse, RedirectResponse
from sqlalchemy.orm import Session

from govhub.settings import get_settings
from web.deps import SessionDep
from web.monitor.expectations import StoredSuite, stored_suites, suite_index
from web.monitor.pages import AdminDep

__all__ = ["ASSET_PREFIX", "ensure_built", "page_path", "router", "site_dir"]

ASSET_PREFIX = "/static/vendor/datadocs/"
_STAMP = ".built-from"
_lock = threading.Lock()

router = APIRouter(prefix="/data-docs", include_in_schema=False)  # under the monitor router


def site_dir() -> Path:
    """Where the site is built: `<GOVHUB_HOME>/quality/data_docs`."""
    return get_settings().resolved_home / "quality" / "data_docs"


def page_path(suite: StoredSuite) -> str:
    """The site-relative path of a version's validation page (GX's layout: suite / run / time / batch)."""
    moment = suite.validated_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    name = str(suite.result.get("suite") or f"govhub.{suite.resource}")
    return f"validations/{name.replace('.', '/')}/{suite.run_id}/{moment}/v{suite.version}.html"


def _keys(index: list[tuple[str, int, str, bool]]) -> list[str]:
    return [f"{resource}:{version}:{run_id}:{ok}" for resource, version, run_id, ok in index]


def _key(suite: StoredSuite) -> str:
    return f"{suite.resource}:{suite.version}:{suite.run_id}:{suite.success}"


def ensure_built(session: Session) -> Path:
    """The site's folder, brought up to date first when the stored suite results changed since the last build:
    new versions only are rendered (GX's incremental build); anything else rebuilds the site whole."""
    from quality.data_docs import StoredValidation, build_data_docs

    site = site_dir()
    with _lock:
        keys = _keys(suite_index(session))  # read the results themselves only to build
        marker = site / _STAMP
        built = json.loads(marker.read_text()) if marker.exists() else None
        if built == keys:
            return site
        site.parent.mkdir(parents=True, exist_ok=True)
        suites = stored_suites(session)
        validations = {
            _key(s): StoredValidation(s.resource, s.version, s.run_id, s.validated_at, s.result) for s in suites
        }
        added = (
            None if built is None or not set(built) <= set(keys) else [validations[k] for k in keys if k not in built]
        )
        build_data_docs(validations.values(), site, asset_prefix=ASSET_PREFIX, new=added)
        (site / _STAMP).write_text(json.dumps(keys))
    return site


@router.get("")
def data_docs_index(session: SessionDep, viewer: AdminDep) -> RedirectResponse:
    """The site's index, built first if needed."""
    ensure_built(session)
    return RedirectResponse("/monitor/data-docs/index.html", status_code=302)


@router.get("/{path:path}")
def data_docs_file(
    path: Annotated[str, PathParam(max_length=400)], session: SessionDep, viewer: AdminDep
) -> FileResponse:
    """One file of the site (pages, GX's own images and styles); nothing outside the site folder."""
    site = ensure_built(session).resolve()
    target = (site / path).resolve()
    if not target.is_relative_to(site) or not target.is_file() or target.name == _STAMP:
        raise HTTPException(404, detail="no such Data Docs page — 数据文档中没有该页面")
    return FileResponse(target)
