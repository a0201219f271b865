"""GX Data Docs built incrementally: a new version renders its own page (and the index), never an old one.

The second build follows the first at once, as it does when a page view comes right after a publication:
pages the first build finished a moment ago must still count as old.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from quality.data_docs import StoredValidation, build_data_docs, external_links

PREFIX = "/static/vendor/datadocs/"


def _stored(version: int) -> StoredValidation:
    result = {
        "suite": "govhub.person",
        "success": True,
        "statistics": {"evaluated_expectations": 1, "successful_expectations": 1},
        "results": [
            {
                "expectation": "expect_column_values_to_not_be_null",
                "kwargs": {"column": "id_number"},
                "success": True,
                "result": {"element_count": 10, "unexpected_count": 0},
            }
        ],
    }
    moment = dt.datetime(2026, 12, 5, 15, 59, 59, tzinfo=dt.UTC) + dt.timedelta(days=version)
    return StoredValidation("person", version, f"person-{version:06d}-docs", moment, result)


def _state(site: Path) -> dict[Path, tuple[int, str]]:
    """Every page with its modification time (ns) and a hash of its text: a page written again moves either."""
    return {p: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest()) for p in site.rglob("v*.html")}


def test_a_new_version_renders_only_its_page_and_the_old_pages_stay_as_they_were(tmp_path: Path) -> None:
    site = tmp_path / "data_docs"
    first = [_stored(0), _stored(1)]
    build_data_docs(first, site, asset_prefix=PREFIX)
    old = _state(site)
    assert len(old) == 2
    added = _stored(2)
    build_data_docs([*first, added], site, asset_prefix=PREFIX, new=[added])
    now = _state(site)
    assert {p: now[p] for p in old} == old  # neither rendered again nor rewritten offline
    assert [p.name for p in set(now) - set(old)] == ["v2.html"]
    assert "person-000002-docs" in (site / "index.html").read_text(encoding="utf-8")
    assert all(external_links(p.read_text(encoding="utf-8")) == [] for p in site.rglob("*.html"))


def test_a_build_without_new_versions_replaces_the_site_whole(tmp_path: Path) -> None:
    site = tmp_path / "data_docs"
    build_data_docs([_stored(0), _stored(1)], site, asset_prefix=PREFIX)
    build_data_docs([_stored(0)], site, asset_prefix=PREFIX)  # a version removed
    assert sorted(p.name for p in site.rglob("v*.html")) == ["v0.html"]
    assert "person-000001-docs" not in (site / "index.html").read_text(encoding="utf-8")
    assert not list(tmp_path.glob("data_docs.*"))  # no staging or retired copy left behind
    assert all(external_links(p.read_text(encoding="utf-8")) == [] for p in site.rglob("*.html"))
