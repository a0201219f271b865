"""Run deliveries from settings: open the metadata store, the lake and the exchange log, then deliver.

The thin callers (the `deliver_<resource>` DAGs, `govhub delivery run`, the web app) use these so
they never assemble settings, lake or secrets themselves.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from govhub.hub_secrets import hub_secret
from govhub.lineage import emit_deliveries
from govhub.settings import Settings, get_settings

__all__ = ["delivery_secret", "open_lake", "run_deliveries"]

log = logging.getLogger(__name__)


def delivery_secret(settings: Settings | None = None) -> bytes:
    """The hub secret keying delivery pseudonyms: GOVHUB_DELIVERY_SECRET (hex), else
    `<keys_dir>/delivery.secret`, made once (0600) when missing.

    It must stay the same for the life of the hub and on every host: a new secret gives every
    department new pseudonymous keys (their upserts would no longer match). Back it up with the
    signing keys; `xxd -p -c 64 delivery.secret` prints the file as the setting's hex.
    """
    settings = settings or get_settings()
    if settings.delivery_secret is not None:
        return bytes.fromhex(settings.delivery_secret.get_secret_value().strip())
    return hub_secret("delivery", home=settings.resolved_home, keys_dir=settings.keys_dir)


def open_lake(settings: Settings | None = None) -> Any:
    """The configured lake (GOVHUB_LAKE_URL and the S3 settings)."""
    from lake import Lake

    settings = settings or get_settings()
    return Lake(settings.lake_root, storage_options=settings.lake_storage_options)


def run_deliveries(
    resource: str, *, version: int | None = None, orchestrator: Literal["cli", "airflow"] = "cli"
) -> list[dict[str, Any]]:
    """Deliver `resource` up to `version` (default: current) to every granted subscription.

    Migrates the metadata store, appends an exchange-log event per delivery, and returns one dict per
    delivery (`DeliveryResult.as_dict()`); failed deliveries are in the list with status "failed".
    Outside Airflow each delivery also emits its OpenLineage events (under Airflow the provider does).
    """
    from exchange.delivery import deliver_resource
    from exchange.log import ExchangeLog
    from govhub.db import migrate, session_scope
    from govhub.delivery_targets import target_resolver
    from govhub.exchange_log import hub_subject_keys
    from schemas import load_contract

    settings = get_settings()
    migrate()
    contract = load_contract(resource)
    lake = open_lake(settings)
    secret = delivery_secret(settings)
    with session_scope() as session:
        results = deliver_resource(
            session,
            lake,
            contract,
            version=version,
            secret=secret,
            exchange_log=ExchangeLog(session),
            targets=target_resolver(session, settings),
            subject_keys=hub_subject_keys(),
        )
    log.info("delivered %s: %s deliveries", resource, len(results))
    delivered = [r.as_dict() for r in results]
    emit_deliveries(resource, delivered, orchestrator=orchestrator)
    return delivered
