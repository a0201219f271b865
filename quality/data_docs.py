"""Great Expectations Data Docs from the suite results the hub stores, built to be served offline.

Every published version's GX suite result is kept in the hub's store (`quality.suite.SuiteResult`, on
the run's quality report). `build_data_docs` turns them back into GX validation results, builds GX's
own Data Docs site (an index, one page per validation, one per suite) into a folder, and rewrites its
HTML for an intranet: GX links its styles and scripts from CDNs (Bootstrap, jQuery, bootstrap-table,
Font Awesome, Vega) and a logo from GX's servers; those become the hub's vendored copies under
`asset_prefix` (`web/static/vendor/datadocs/`) or are removed (Vega charts, a dark theme, the
newsletter link), so no page loads anything from outside the hub.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas import load_all

__all__ = ["StoredValidation", "build_data_docs", "external_links"]

# GX's CDN assets -> the hub's vendored copy (None: removed; the page works without it)
_ASSETS: tuple[tuple[str, str | None], ...] = (
    (r"https://maxcdn\.bootstrapcdn\.com/bootstrap/[^\"']*/bootstrap\.min\.css", "css/bootstrap.min.css"),
    (r"https://stackpath\.bootstrapcdn\.com/bootstrap/[^\"']*/bootstrap\.min\.js", "js/bootstrap.bundle.min.js"),
    (r"https://code\.jquery\.com/jquery-[^\"']*\.min\.js", "js/jquery.min.js"),
    (r"https://unpkg\.com/bootstrap-table@[^\"']*/dist/bootstrap-table\.min\.js", "js/bootstrap-table.min.js"),
    (r"https://unpkg\.com/bootstrap-table@[^\"']*/dist/bootstrap-table\.min\.css", "css/bootstrap-table.min.css"),
    (
        r"https://unpkg\.com/bootstrap-table@[^\"']*/filter-control/bootstrap-table-filter-control\.min\.js",
        "js/bootstrap-table-filter-control.min.js",
    ),
    (
        r"https://unpkg\.com/bootstrap-table@[^\"']*/filter-control/bootstrap-table-filter-control\.css",
        "css/bootstrap-table-filter-control.min.css",
    ),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/font-awesome/[^\"']*/all\.min\.css", "css/fontawesome.min.css"),
    (r"https://cdnjs\.cloudflare\.com/ajax/libs/popper\.js/[^\"']*", None),  # in bootstrap.bundle
    (
        r"https://cdnjs\.cloudflare\.com/ajax/libs/bootstrap-datepicker/[^\"']*/bootstrap-datepicker\.min\.js",
        "js/bootstrap-datepicker.min.js",  # the index's date filter (bootstrap-table's filter-control) needs it
    ),
    (
        r"https://cdnjs\.cloudflare\.com/ajax/libs/bootstrap-datepicker/[^\"']*/bootstrap-datepicker\.min\.css",
        "css/bootstrap-datepicker.min.css",
    ),
    (r"https://cdn\.jsdelivr\.net/npm/[^\"']*", None),  # Vega, Vega-Lite, Vega-Embed, the dark theme
)
_EXTERNAL_TAG = re.compile(r"<(script|link)\b[^>]*?(?:src|href)=[\"']https?://[^>]*>(?:\s*</script>)?", re.I)
_EXTERNAL_IMG = re.compile(r"<img\b[^>]*?\bsrc=[\"']https?://[^>]*>", re.I)  # GX's logo, fetched with an id
_EXTERNAL_HREF = re.compile(r"(<a\b[^>]*?)\shref=[\"']https?://[^\"']*[\"']", re.I)
_EXTERNAL_CSS = re.compile(r"""url\(\s*["']?(?:https?:)?//[^)]*\)""", re.I)  # GX's dark-theme logo
_INTEGRITY = re.compile(r"""\s(?:integrity|crossorigin)=["'][^"']*["']""", re.I)
_EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']\s*(?:https?:)?//""", re.I)


@dataclass(frozen=True)
class StoredValidation:
    """One stored suite result (`SuiteResult.to_dict()`) and the run and version it validated."""

    resource: str
    version: int
    run_id: str
    validated_at: dt.datetime  # aware
    suite_result: Mapping[str, Any]


def build_data_docs(
    validations: Iterable[StoredValidation],
    site: Path,
    *,
    asset_prefix: str,
    new: Iterable[StoredValidation] | None = None,
) -> Path:
    """Build GX Data Docs for `validations` into `site` and make it offline; returns index.html.

    `asset_prefix`: the URL path of the vendored assets (`/static/vendor/datadocs/`). Without `new` the
    site is built in a private folder and swapped in whole; with `new` (some of `validations`) and a site
    already there, only their pages, the suites' pages and the index are rendered into it (GX's
    incremental build: a year of daily versions costs seconds to rebuild whole, one new page far less).
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    from quality.suite import build_suite

    token = secrets.token_hex(4)  # workers building at once never share a folder
    incremental = new is not None and (site / "index.html").exists()
    staging = site if incremental else site.with_name(f"{site.name}.building-{token}")
    kept = _stamps(site) if incremental else {}  # the pages as they are before GX renders any
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        data_docs_sites={
            "hub": {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(staging)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
    )
    context = gx.get_context(mode="ephemeral", project_config=config)
    contracts = load_all()
    suites: dict[str, Any] = {}
    for stored in validations:
        contract = contracts.get(stored.resource)
        if contract is not None and stored.resource not in suites:
            suites[stored.resource] = context.suites.add(build_suite(contract))
        identifier, result = _validation(stored)
        context.validation_results_store.set(identifier, result)
    if incremental:
        fresh = [_validation(stored)[0] for stored in new or ()]
        fresh += [_suite_identifier(suite.name) for suite in suites.values()]
        context.build_data_docs(site_names=["hub"], resource_identifiers=fresh)
    else:
        context.build_data_docs(site_names=["hub"])
    for page, stamp in _stamps(staging).items():
        if kept.get(page) == stamp:
            continue  # not rendered by this build: already offline, and left untouched
        html = page.read_text(encoding="utf-8")
        offline = offline_html(html, asset_prefix)
        if offline != html:
            page.write_text(offline, encoding="utf-8")
    if incremental:
        return site / "index.html"
    retired = site.with_name(f"{site.name}.old-{token}")
    if site.exists():
        site.rename(retired)  # readers see the old site or the new one, never half of one
    staging.rename(site)
    shutil.rmtree(retired, ignore_errors=True)
    return site / "index.html"


def _stamps(folder: Path) -> dict[Path, tuple[int, int]]:
    """Every page of a site with its modification time (ns) and size, to tell the pages a build rendered.

    A page GX renders is written in place with its CDN links and `integrity` hashes, so its size differs
    from the offline copy it replaces even where the file system's clock is too coarse to move its time.
    """
    found: dict[Path, tuple[int, int]] = {}
    for page in folder.rglob("*.html"):
        stat = page.stat()
        found[page] = (stat.st_mtime_ns, stat.st_size)
    return found


def _suite_identifier(name: str) -> Any:
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    return ExpectationSuiteIdentifier(name=name)


def _validation(stored: StoredValidation) -> tuple[Any, Any]:
    """A stored suite result as GX's (identifier, ExpectationSuiteValidationResult)."""
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    data = stored.suite_result
    suite = str(data.get("suite") or f"govhub.{stored.resource}")
    run = RunIdentifier(run_name=stored.run_id, run_time=stored.validated_at.astimezone(dt.UTC))
    batch = f"v{stored.version}"
    results = [
        ExpectationValidationResult(
            success=bool(r.get("success")),
            expectation_config=ExpectationConfiguration(
                type=str(r.get("expectation")), kwargs=dict(r.get("kwargs") or {}), meta=dict(r.get("meta") or {})
            ),
            result=dict(r.get("result") or {}),
            exception_info={
                "raised_exception": bool(r.get("exception")),
                "exception_message": r.get("exception"),
                "exception_traceback": None,
            },
        )
        for r in data.get("results") or []
    ]
    result = ExpectationSuiteValidationResult(
        success=bool(data.get("success")),
        results=results,
        suite_name=suite,
        statistics=dict(data.get("statistics") or {}),
        meta={
            "run_id": run,
            "active_batch_definition": {
                "datasource_name": "govhub",
                "data_asset_name": stored.resource,
                "batch_definition_name": batch,
            },
            "batch_spec": {"version": stored.version, "sampled": bool(data.get("sampled"))},
            "great_expectations_version": str(data.get("gx_version") or ""),
            "validation_time": stored.validated_at.astimezone(dt.UTC).isoformat(),
        },
    )
    identifier = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite), run_id=run, batch_identifier=batch
    )
    return identifier, result


def offline_html(html: str, asset_prefix: str) -> str:
    """A Data Docs page with its CDN assets pointed at the hub's copies and every other outside link removed."""
    for pattern, local in _ASSETS:
        if local is None:
            html = re.sub(rf"<(script|link)\b[^>]*?[\"']{pattern}[\"'][^>]*>(?:\s*</script>)?", "", html)
        else:
            html = re.sub(pattern, asset_prefix.rstrip("/") + "/" + local, html)
    html = _INTEGRITY.sub("", html)  # the CDN files' hashes: the vendored copies differ (bootstrap.bundle)
    html = _EXTERNAL_TAG.sub("", html)
    html = _EXTERNAL_IMG.sub("", html)
    html = _EXTERNAL_CSS.sub("none", html)
    return _EXTERNAL_HREF.sub(r"\1", html)


def external_links(html: str) -> list[str]:
    """Every `src`/`href` and CSS `url()` of a page that leaves the hub (what `offline_html` must leave none of)."""
    found = [*_EXTERNAL.finditer(html), *_EXTERNAL_CSS.finditer(html)]
    return [html[m.start() : m.start() + 120] for m in found]
