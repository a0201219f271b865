"""Everything a stage needs about one resource: its contract, settings, lake tables and connector."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING

import pyarrow as pa

from core.time import beijing_today
from govhub.pipeline.staging import Staging
from govhub.settings import Settings, get_settings
from govhub.source_connections import airflow_source_config
from lake import CuratedTable, KeySet, Lake, QuarantineTable
from schemas import Contract, arrow_schema, load_all, load_contract

if TYPE_CHECKING:
    from connectors import Connector

__all__ = ["ResourceContext", "open_resource"]


@dataclass
class ResourceContext:
    """A resource as the pipeline sees it during one stage."""

    contract: Contract
    settings: Settings
    lake: Lake

    @cached_property
    def curated(self) -> CuratedTable:
        return self.lake.curated(self.contract)

    @cached_property
    def quarantine(self) -> QuarantineTable:
        return self.lake.quarantine(self.contract)

    @cached_property
    def curated_schema(self) -> pa.Schema:
        return arrow_schema(self.contract)

    @cached_property
    def schema_fingerprint(self) -> str:
        """SHA-256 of the curated schema's field names and types: changes when the contract does."""
        text = ";".join(f"{f.name}:{f.type}" for f in self.curated_schema)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def today(self) -> date:
        return beijing_today()

    def staging(self, run_id: str) -> Staging:
        """The run's staged Arrow files (extracted, accepted, rejected...) in the lake."""
        return Staging(self.lake.staging(self.contract, run_id))

    def connector(self) -> Connector:
        """The source's connector: the contract's kind, the settings, an Airflow connection over them."""
        from connectors import connector_for  # looked up at call time: deployments and tests may wrap it

        # an Airflow connection (govhub_<system>) wins key by key over the GOVHUB_* settings
        config = {**self.settings.source_config(self.contract), **(airflow_source_config(self.contract) or {})}
        inbox = str(config.get("inbox") or "")
        if inbox.startswith("s3://"):  # an inbox on the hub's object store: the connector reads it through this
            from lake._fs import filesystem_for

            options = config.get("storage_options") or self.settings.object_store_options("inbox")
            config["filesystem"] = filesystem_for(inbox, options)[0]
        return connector_for(self.contract, config)

    def references(self) -> dict[str, KeySet]:
        """Key sets of the resources this contract's `references` checks point at (current versions)."""
        return self.references_at()[0]

    def referenced_versions(self) -> dict[str, int | None]:
        """The current curated version of every resource this contract references (None: none yet)."""
        contracts = load_all()
        return {name: self.lake.curated(contracts[name]).version() for name in self.contract.referenced_resources}

    def references_at(self) -> tuple[dict[str, KeySet], dict[str, int | None]]:
        """The reference key sets, read at pinned versions, and those versions (what rows were checked against).

        Compact sets of 64-bit fingerprints read column batch by batch (32 MB for 4 M persons), not
        the key columns themselves.
        """
        contracts = load_all()
        versions = self.referenced_versions()
        lookups: dict[str, KeySet] = {}
        for f in self.contract.fields:
            for check in f.checks:
                for target in check.params.get("targets", ()):
                    resource, field_name = target.split(".")
                    if target in lookups:
                        continue
                    table = self.lake.curated(contracts[resource])
                    version = versions.get(resource, table.version())
                    if version is None:
                        lookups[target] = KeySet.of(pa.array([], pa.string()))
                    else:
                        lookups[target] = table.key_set(field_name, version=version)
        return lookups, versions


def open_resource(resource: str) -> ResourceContext:
    """The context of a resource under the current settings."""
    settings = get_settings()
    lake = Lake(settings.lake_root, storage_options=settings.lake_storage_options)
    return ResourceContext(contract=load_contract(resource), settings=settings, lake=lake)
