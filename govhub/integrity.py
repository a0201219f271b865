"""`govhub lake verify`: each curated table's files against the manifests recorded with its dataset versions."""

from __future__ import annotations

from collections.abc import Sequence

from lake import IntegrityReport, verify_files

__all__ = ["verify_lake"]


def verify_lake(resources: Sequence[str] | None = None) -> list[IntegrityReport]:
    """One report per resource (default: every contract) whose curated table has registered versions.

    The manifests come from the catalogue's `dataset_version.files` (written at publish); a table with
    no registered version yet is skipped.
    """
    from catalog import list_versions
    from govhub.db import migrate, session_scope
    from govhub.delivery_runner import open_lake
    from schemas import load_all, load_contract

    migrate()
    lake = open_lake()
    reports = []
    for resource in resources or sorted(load_all()):
        with session_scope() as session:
            manifests = {v.version: v.files for v in list_versions(session, resource, newest_first=False)}
        if manifests:
            reports.append(verify_files(lake.curated(load_contract(resource)), manifests))
    return reports
