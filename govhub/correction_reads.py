"""What a correction reads: the fields a reporter receives, and published values through the lake's read API."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from catalog import CatalogError, Reporter, granted_subscriptions
from exchange.verify import VerificationClient, load_items
from govhub.delivery_runner import open_lake
from schemas import load_contract

__all__ = ["KEY_SEPARATOR", "read_values", "visible_fields"]

KEY_SEPARATOR = "|"  # joins the values of a composite primary key, in contract order
TOMBSTONE = "_deleted"  # the curated column marking a deleted record of a `deletes: tombstone` contract


def visible_fields(session: Session, reporter: Reporter, resource: str) -> set[str] | None:
    """The fields of `resource` the reporter receives: None (all) for an administrator.

    A department: the fields of its granted subscriptions within their term of use; a client: the
    fields its allowed verification items touch (key, subject, reads, returns).
    """
    if reporter.kind == "admin":
        return None
    if reporter.kind == "department":
        subs = granted_subscriptions(session, resource)
        return {f for sub in subs if sub.department_code == reporter.id for f in (sub.fields or [])}
    client = session.get(VerificationClient, reporter.id)
    if client is None or not client.active:
        raise CatalogError(
            f"unknown or inactive verification client {reporter.id!r}",
            message_zh=f"核验客户端 {reporter.id} 不存在或已停用",
            kind="not_found",
        )
    allowed = set(client.allowed_items or ())
    return {
        f for item in load_items().values() if item.code in allowed and item.resource == resource for f in item.fields
    }


def read_values(
    resource: str, wanted: Iterable[tuple[str, str]], *, lake: Any = None
) -> tuple[dict[tuple[str, str], str | None], int | None]:
    """The current published values of (record key, field) pairs, as text, and the version read.

    Pairs whose record is not in the current version (or is a tombstone, for `deletes: tombstone`
    contracts) are absent from the result. Read through the curated table's `scan` (a pass over the
    key and the wanted columns only).
    """
    contract = load_contract(resource)
    curated = (lake or open_lake()).curated(contract)
    pairs = set(wanted)
    version = curated.version()
    if not pairs or version is None:
        return {}, version
    keys = list(contract.primary_key)
    fields = sorted({f for _, f in pairs})
    wanted_keys = pa.array(sorted({k for k, _ in pairs}), pa.string())
    found: dict[tuple[str, str], str | None] = {}
    tombstones = contract.deletes == "tombstone"
    columns = list(dict.fromkeys([*keys, *fields, *([TOMBSTONE] if tombstones else [])]))
    for batch in curated.scan(version=version, columns=columns):
        key_text = _key_column(batch, keys)
        hits = pc.is_in(key_text, value_set=wanted_keys)
        if tombstones:  # a deleted record keeps its last values under `_deleted`: it is not published
            hits = pc.and_(hits, pc.invert(pc.fill_null(batch.column(TOMBSTONE), False)))
        if not pc.any(hits).as_py():
            continue
        chosen = batch.filter(hits)
        chosen_keys = _key_column(chosen, keys).to_pylist()
        for name in fields:
            values = chosen.column(name).to_pylist()
            for key, value in zip(chosen_keys, values, strict=True):
                if (key, name) in pairs:
                    found[(key, name)] = _text(value)
    return found, version


def _key_column(batch: pa.RecordBatch | pa.Table, keys: list[str]) -> pa.Array:
    """The primary key as one text column ("|" between the parts of a composite key)."""
    parts = [pc.cast(batch.column(k), pa.string()) for k in keys]
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, KEY_SEPARATOR)


def _text(value: Any) -> str | None:
    """A published value as the text a flag keeps (ISO dates, plain decimals, true/false)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)
