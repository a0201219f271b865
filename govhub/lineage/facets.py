"""govhub's custom OpenLineage facets: the dataset version and counts, the source system, a delivery.

Custom facets follow the spec's rule for extensions: a key prefixed with the producer (`govhub_`) and a
`_schemaURL` naming the facet's own schema. The attrs classes check types when built.
"""

from __future__ import annotations

import attr
from openlineage.client.facet_v2 import DatasetFacet, RunFacet

__all__ = [
    "PRODUCER",
    "GovhubDeliveryDatasetFacet",
    "GovhubRunFacet",
    "GovhubSourceDatasetFacet",
    "GovhubVersionDatasetFacet",
]

PRODUCER = "urn:govhub:lineage"  # a URI naming the producer; govhub has no public site to point at
_SCHEMA_BASE = "urn:govhub:lineage:facet:"  # facets are documented in dags/README.md (## Lineage)


@attr.define
class GovhubVersionDatasetFacet(DatasetFacet):
    """A curated dataset version: the Delta version an ingest run committed and its row counts."""

    resource: str
    version: int | None = None
    run_id: str | None = None
    extracted: int | None = None
    accepted: int | None = None
    rejected: int | None = None
    warned: int | None = None

    @staticmethod
    def _get_schema() -> str:
        return _SCHEMA_BASE + "GovhubVersionDatasetFacet"


@attr.define
class GovhubSourceDatasetFacet(DatasetFacet):
    """The city system a dataset comes from (人口库, 法人库, 信用平台, 非税系统) and its provider."""

    system: str
    kind: str
    label: str = ""
    label_en: str = ""
    provider_code: str = ""
    provider_name: str = ""

    @staticmethod
    def _get_schema() -> str:
        return _SCHEMA_BASE + "GovhubSourceDatasetFacet"


@attr.define
class GovhubDeliveryDatasetFacet(DatasetFacet):
    """One delivery to a subscribing department: versions, mode, status and rows."""

    subscription_id: int
    department_code: str
    mode: str
    status: str
    to_version: int
    from_version: int | None = None
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_deleted: int = 0
    location: str | None = None

    @staticmethod
    def _get_schema() -> str:
        return _SCHEMA_BASE + "GovhubDeliveryDatasetFacet"


@attr.define
class GovhubRunFacet(RunFacet):
    """Links an OpenLineage run to govhub's own run record (`govhub status`, the exchange log)."""

    resource: str
    run_id: str | None = None
    orchestrator: str = "cli"

    @staticmethod
    def _get_schema() -> str:
        return _SCHEMA_BASE + "GovhubRunFacet"
