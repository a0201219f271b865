"""Field restriction and PII masking of a delivery: pure Arrow functions, one rule per contract PII class.

Rules when the subscription has no PII access (`pii_access=False`):

- `identifier`: the first 6 and last 2 characters kept, `*` between (8 or fewer: all `*`):
  430902**********12;
- `personal`, address-like field (name ends in `address`/`place`): truncated after the county-level
  unit (区/县/市/旗): 益阳市赫山区 (no county found: `***`);
- `personal`, other text: first character + one `*` per further character: 张** (1 character: `*`);
- `personal`, not text (dates...): null;
- `sensitive`: null, whatever the type;
- `none`: unchanged.

A primary-key column that is PII is never masked that way (the department needs a stable key to upsert):
it becomes a keyed pseudonym, HMAC-SHA256(secret, "<department>|<resource>|<value>") in hex. The
department code in the message makes pseudonyms differ between departments, so two departments cannot
join their deliveries on it; the same department always gets the same pseudonym for the same person.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from schemas import Contract
from schemas.contract import Field

__all__ = ["delivered_columns", "mask_column", "masking_kind", "pseudonymise", "restrict_and_mask"]

log = logging.getLogger(__name__)

# County-level unit after an optional province and prefecture: 益阳市赫山区, 湖南省益阳市沅江市, 益阳市南县.
_COUNTY = r"^((?:[^省]{1,8}?省)?(?:[^市州盟]{1,8}?(?:市|自治州|州|地区|盟))?[^区县市旗]{1,8}?(?:区|县|市|旗))"
_ADDRESS_SUFFIXES = ("address", "place")
MASK = "*"
_SHA256_BLOCK = 64  # bytes: the HMAC key block of SHA-256
MASKED_KEY = b"govhub:masked"
NOTICE_KEY = b"govhub:masking"
"""Arrow field metadata on a masked column: how it was masked (`exchange.delivery.notice` says why)."""


def delivered_columns(contract: Contract, fields: Sequence[str]) -> list[str]:
    """The contract fields a subscription receives, in contract order; the primary key always included.

    Granted names the contract does not know are ignored (logged): a grant can never widen what is sent.
    """
    known = {f.name for f in contract.fields}
    unknown = sorted(set(fields) - known)
    if unknown:
        log.warning("granted field(s) %s are not in the %s contract; ignored", unknown, contract.resource)
    wanted = set(fields) | set(contract.primary_key)
    return [f.name for f in contract.fields if f.name in wanted]


def _stars(lengths: pa.Array) -> pa.Array:
    return pc.binary_repeat(pa.scalar(MASK), pc.max_element_wise(lengths, 0))


def _mask_identifier(col: pa.Array) -> pa.Array:
    n = pc.utf8_length(col)
    head = pc.utf8_slice_codeunits(col, 0, 6)
    tail = pc.utf8_slice_codeunits(col, -2)
    kept = pc.binary_join_element_wise(head, _stars(pc.subtract(n, 8)), tail, "")
    return pc.if_else(pc.greater(n, 8), kept, _stars(n))


def _mask_personal_text(col: pa.Array) -> pa.Array:
    n = pc.utf8_length(col)
    kept = pc.binary_join_element_wise(pc.utf8_slice_codeunits(col, 0, 1), _stars(pc.subtract(n, 1)), "")
    return pc.if_else(pc.greater(n, 1), kept, _stars(n))


def _mask_address(col: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Regex on the distinct addresses only: members of a household share one (~2.5 persons each)."""
    encoded = pc.dictionary_encode(col)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.unify_dictionaries()
        masked = _mask_address_values(encoded.chunk(0).dictionary) if encoded.num_chunks else None
        return pa.chunked_array([pc.take(masked, c.indices) for c in encoded.chunks], pa.string())
    return pc.take(_mask_address_values(encoded.dictionary), encoded.indices)


def _mask_address_values(col: pa.Array) -> pa.Array:
    matched = pc.match_substring_regex(col, _COUNTY)
    truncated = pc.replace_substring_regex(col, _COUNTY + r".*$", r"\1")
    return pc.if_else(matched, truncated, pa.scalar("***"))


def masking_kind(field: Field, *, primary_key: bool) -> str | None:
    """How a field is masked without PII access (the rules above, by contract class and type); None: sent as is."""
    if field.pii == "none":
        return None
    if primary_key:
        return "pseudonym"
    if field.pii == "sensitive" or field.type != "string":
        return "withheld"
    if field.pii == "identifier":
        return "partial"
    return "county" if field.name.endswith(_ADDRESS_SUFFIXES) else "initial"


def mask_column(col: pa.Array | pa.ChunkedArray, *, pii: str, name: str) -> pa.Array | pa.ChunkedArray:
    """Mask one column by its PII class (see the module docstring for the rules)."""
    if pii == "none":
        return col
    text = pa.types.is_string(col.type) or pa.types.is_large_string(col.type)
    if pii == "sensitive" or not text:
        return pa.nulls(len(col), col.type)
    if pii == "identifier":
        return _mask_identifier(col)
    if name.endswith(_ADDRESS_SUFFIXES):
        return _mask_address(col)
    return _mask_personal_text(col)


def pseudonymise(col: pa.Array | pa.ChunkedArray, *, secret: bytes, department: str, resource: str) -> pa.Array:
    """Keyed, stable pseudonyms of a key column: HMAC-SHA256(secret, "<department>|<resource>|<value>")."""
    if not secret:
        raise ValueError("pseudonymising a key needs a non-empty hub secret")
    # HMAC spelled out (RFC 2104) on hashlib's own objects: the keyed inner state has absorbed the
    # prefix once and each value copies it; `hmac.HMAC.copy` costs a Python object per value on top.
    key = hashlib.sha256(secret).digest() if len(secret) > _SHA256_BLOCK else secret
    key = key.ljust(_SHA256_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    inner.update(f"{department}|{resource}|".encode())
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
    copy_inner, copy_outer = inner.copy, outer.copy
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        values = col.cast(pa.binary()).to_pylist()  # UTF-8 bytes, no `str.encode` per value
    else:
        values = [None if v is None else str(v).encode() for v in col.to_pylist()]
    out: list[str | None] = []
    append = out.append
    for value in values:
        if value is None:
            append(None)
            continue
        h = copy_inner()
        h.update(value)
        o = copy_outer()
        o.update(h.digest())
        append(o.hexdigest())
    return pa.array(out, pa.string())


def restrict_and_mask(
    table: pa.Table,
    contract: Contract,
    *,
    fields: Sequence[str],
    pii_access: bool,
    secret: bytes,
    department: str,
) -> pa.Table:
    """Keep only the granted fields (plus system `_` columns) and mask PII unless `pii_access`.

    A masked column becomes nullable; a PII primary key becomes a pseudonym string.
    """
    keep = delivered_columns(contract, fields)
    system = [n for n in table.column_names if n.startswith("_")]
    table = table.select([*keep, *system])
    if pii_access:
        return table
    from exchange.delivery.notice import masking_notice  # the notice reads these rules

    notice = masking_notice(contract, fields, pii_access=False)
    if notice is not None:  # the file's own metadata says what is masked, why and how to ask
        metadata = {**(table.schema.metadata or {}), NOTICE_KEY: json.dumps(notice, ensure_ascii=False).encode()}
        table = table.replace_schema_metadata(metadata)
    classes = {f.name: f.pii for f in contract.fields}
    for name in keep:
        pii = classes[name]
        if pii == "none":
            continue
        i = table.schema.get_field_index(name)
        old = table.schema.field(name)
        if name in contract.primary_key:
            col = pseudonymise(table.column(name), secret=secret, department=department, resource=contract.resource)
        else:
            col = mask_column(table.column(name), pii=pii, name=name)
        kind = masking_kind(contract.field(name), primary_key=name in contract.primary_key) or "withheld"
        metadata = {**(old.metadata or {}), MASKED_KEY: kind.encode()}
        table = table.set_column(i, pa.field(name, col.type, nullable=True, metadata=metadata), col)
    return table
