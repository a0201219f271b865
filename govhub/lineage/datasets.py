"""OpenLineage datasets govhub names: a source system's table or endpoint, a curated version, a delivery.

Naming follows the OpenLineage conventions where one exists (`postgres://host:port` + `db.schema.table`,
`mysql://host:port` + `db.table`, `file` + path); govhub's own datasets live in the namespace `govhub`
with names `curated/<resource>` and `department/<code>/<resource>`, so `<namespace>://<name>` is the
Airflow Asset URI (`govhub://curated/person`). Connection URLs never leak credentials: only host, port,
database and table are used.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from govhub.settings import Settings, get_settings
from schemas import Contract, load_systems

__all__ = [
    "NAMESPACE",
    "curated_input",
    "curated_name",
    "curated_output",
    "department_name",
    "department_output",
    "source_dataset",
    "source_identity",
]

NAMESPACE = "govhub"  # job namespace and the namespace of govhub's own datasets


def curated_name(resource: str) -> str:
    """Name of a curated dataset in the `govhub` namespace."""
    return f"curated/{resource}"


def department_name(department_code: str, resource: str) -> str:
    """Name of what a department received of a resource, in the `govhub` namespace."""
    return f"department/{department_code}/{resource}"


def source_identity(contract: Contract, *, settings: Settings | None = None) -> tuple[str, str]:
    """(namespace, name) of the contract's source: a table, an HTTP endpoint or an inbox pattern."""
    settings = settings or get_settings()
    source, config = contract.source, settings.source_config(contract)
    if source.kind == "sql":
        return _sql_identity(config["url"], str(source.options.get("table", contract.resource)), source.options)
    if source.kind == "http":
        parts = urlsplit(config["base_url"])
        return f"{parts.scheme}://{parts.netloc}", str(source.options.get("endpoint", "/"))
    pattern = source.options.get("pattern", "*")
    if "://" in str(config["inbox"]):  # s3://bucket/prefix: namespace s3://bucket, name prefix/pattern
        scheme, rest = str(config["inbox"]).split("://", 1)
        bucket, _, prefix = rest.partition("/")
        return f"{scheme}://{bucket}", f"{prefix.strip('/')}/{pattern}".lstrip("/")
    inbox = Path(config["inbox"]).expanduser().resolve()
    return "file", f"{inbox}/{pattern}"


def _sql_identity(url: str, table: str, options: Mapping[str, Any]) -> tuple[str, str]:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        database = u.database or ":memory:"
        path = database if database == ":memory:" else str(Path(database).expanduser().resolve())
        return f"sqlite://{path}", table
    if backend == "postgresql":
        schema = str(options.get("schema", "public"))
        return f"postgres://{u.host}:{u.port or 5432}", f"{u.database}.{schema}.{table}"
    if backend in ("mysql", "mariadb"):
        return f"mysql://{u.host}:{u.port or 3306}", f"{u.database}.{table}"
    return f"{backend}://{u.host}:{u.port}", f"{u.database}.{table}"


def source_dataset(contract: Contract, *, rows: int | None = None, settings: Settings | None = None) -> Any:
    """The source system's dataset as an OpenLineage `InputDataset`, with the govhub_source facet."""
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.facet_v2 import input_statistics_input_dataset

    from govhub.lineage.facets import PRODUCER, GovhubSourceDatasetFacet

    namespace, name = source_identity(contract, settings=settings)
    system = load_systems().get(contract.source.system, {})
    facet = GovhubSourceDatasetFacet(
        system=contract.source.system,
        kind=contract.source.kind,
        label=str(system.get("label", "")),
        label_en=str(system.get("label_en", "")),
        provider_code=str(contract.provider.get("code", "")),
        provider_name=str(contract.provider.get("name", "")),
        producer=PRODUCER,
    )
    input_facets = {}
    if rows is not None:
        input_facets["inputStatistics"] = input_statistics_input_dataset.InputStatisticsInputDatasetFacet(
            rowCount=rows, producer=PRODUCER
        )
    return InputDataset(namespace=namespace, name=name, facets={"govhub_source": facet}, inputFacets=input_facets)


def curated_output(contract: Contract, summary: Mapping[str, Any] | None = None) -> Any:
    """The curated dataset as an `OutputDataset`; with a run summary, its version and row counts."""
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.facet_v2 import dataset_version_dataset, output_statistics_output_dataset, schema_dataset

    from govhub.lineage.facets import PRODUCER, GovhubVersionDatasetFacet

    fields = [
        schema_dataset.SchemaDatasetFacetFields(name=f.name, type=str(f.type), description=f.label)
        for f in contract.fields
    ]
    facets: dict[str, Any] = {"schema": schema_dataset.SchemaDatasetFacet(fields=fields, producer=PRODUCER)}
    output_facets: dict[str, Any] = {}
    if summary is not None:
        version = summary.get("version")
        facets["govhub_version"] = GovhubVersionDatasetFacet(
            resource=contract.resource,
            version=version,
            run_id=summary.get("run_id"),
            extracted=summary.get("extracted"),
            accepted=summary.get("accepted"),
            rejected=summary.get("rejected"),
            warned=summary.get("warned"),
            producer=PRODUCER,
        )
        if version is not None:
            facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
                datasetVersion=str(version), producer=PRODUCER
            )
        if summary.get("accepted") is not None:
            output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=summary["accepted"], producer=PRODUCER
            )
    return OutputDataset(
        namespace=NAMESPACE, name=curated_name(contract.resource), facets=facets, outputFacets=output_facets
    )


def curated_input(resource: str, version: int | None) -> Any:
    """The curated dataset read at `version`, as an `InputDataset` (what a delivery sends from)."""
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.facet_v2 import dataset_version_dataset

    from govhub.lineage.facets import PRODUCER, GovhubVersionDatasetFacet

    facets: dict[str, Any] = {
        "govhub_version": GovhubVersionDatasetFacet(resource=resource, version=version, producer=PRODUCER)
    }
    if version is not None:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=str(version), producer=PRODUCER
        )
    return InputDataset(namespace=NAMESPACE, name=curated_name(resource), facets=facets)


def department_output(result: Mapping[str, Any]) -> Any:
    """What one delivery gave a department (a `DeliveryResult.as_dict()`), as an `OutputDataset`."""
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.facet_v2 import output_statistics_output_dataset

    from govhub.lineage.facets import PRODUCER, GovhubDeliveryDatasetFacet

    facet = GovhubDeliveryDatasetFacet(
        subscription_id=int(result["subscription_id"]),
        department_code=str(result["department_code"]),
        mode=str(result["mode"]),
        status=str(result["status"]),
        to_version=int(result["to_version"]),
        from_version=result.get("from_version"),
        rows_inserted=int(result.get("rows_inserted") or 0),
        rows_updated=int(result.get("rows_updated") or 0),
        rows_deleted=int(result.get("rows_deleted") or 0),
        location=result.get("location"),
        producer=PRODUCER,
    )
    rows = facet.rows_inserted + facet.rows_updated + facet.rows_deleted
    return OutputDataset(
        namespace=NAMESPACE,
        name=department_name(facet.department_code, str(result["resource"])),
        facets={"govhub_delivery": facet},
        outputFacets={
            "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=rows, size=result.get("bytes"), producer=PRODUCER
            )
        },
    )
