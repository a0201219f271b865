"""The rules behind the items: each reads one snapshot of the serving store and returns the answer.

A rule returns ``{"match": bool}`` for predicate items, or only the item's `returns` fields for value
items (None when the subject is unknown). Codes (person status 正常, entity status 存续/在业, credit
record types, payment status 已缴) are looked up by their Chinese label in the contract's code tables,
never re-typed here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from schemas import load_contract

__all__ = ["RULES", "Rule", "code_for", "region_prefix"]

Row = dict[str, str | None]
Rule = Callable[..., dict[str, Any] | None]


@cache
def code_for(resource: str, table: str, label: str) -> str:
    """The code of `label` in a contract's code table (e.g. person_status 正常 -> "1")."""
    codes = load_contract(resource).code_tables[table].codes
    for code, text in codes.items():
        if text == label:
            return code
    raise KeyError(f"{resource}.{table} has no code labelled {label!r}")


def label_for(resource: str, table: str, code: str | None) -> str | None:
    """The Chinese label of a code (None stays None; an unknown code is returned as is)."""
    if code is None:
        return None
    return load_contract(resource).code_tables[table].codes.get(code, code)


def region_prefix(code: str) -> str:
    """The GB/T 2260 prefix a region code stands for: 430000 -> 43, 430900 -> 4309, 430902 -> 430902."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap year
        return day.replace(year=day.year - years, day=28)


def _one(snap: Any, item: Any, subject: Mapping[str, str], columns: tuple[str, ...]) -> Row | None:
    rows = snap.lookup(item.key, [subject[k] for k in item.key], columns)
    return rows[0] if rows else None


def _many(snap: Any, item: Any, subject: Mapping[str, str], columns: tuple[str, ...]) -> list[Row]:
    return snap.lookup(item.key, [subject[k] for k in item.key], columns)


def _active_on(row: Row, on: date) -> bool:
    day = on.isoformat()
    return (row["valid_from"] or "") <= day and (row["valid_to"] is None or row["valid_to"] >= day)


def fields_match(item: Any, snap: Any, subject: Mapping[str, str], params: Mapping[str, Any], today: date) -> dict:
    """Every subject field equals the stored record's (ID + name, USCC + legal representative)."""
    row = _one(snap, item, subject, item.subject)
    return {"match": row is not None and all(row[k] == subject[k] for k in item.subject)}


def household_in_district(
    item: Any, snap: Any, subject: Mapping[str, str], params: Mapping[str, Any], today: date
) -> dict:
    """Household registered (status 正常) in the region or under it."""
    row = _one(snap, item, subject, ("region_code", "status"))
    normal = code_for("person", "person_status", "正常")
    ok = (
        row is not None
        and row["status"] == normal
        and (row["region_code"] or "").startswith(region_prefix(params["region_code"]))
    )
    return {"match": ok}


def person_alive(item: Any, snap: Any, subject: Mapping[str, str], params: Mapping[str, Any], today: date) -> dict:
    """Known and not recorded as deceased (moved-out persons are alive)."""
    row = _one(snap, item, subject, ("status",))
    return {"match": row is not None and row["status"] != code_for("person", "person_status", "死亡")}


def age_at_least(item: Any, snap: Any, subject: Mapping[str, str], params: Mapping[str, Any], today: date) -> dict:
    """Born on or before the same day `years` years before `on` (default: today)."""
    row = _one(snap, item, subject, ("birth_date",))
    on = params.get("on") or today
    born = None if row is None else row["birth_date"]
    return {"match": born is not None and born <= _years_before(on, params["years"]).isoformat()}


def same_household(item: Any, snap: Any, subject: Mapping[str, str], params: Mapping[str, Any], today: date) -> dict:
    """Both persons registered (status 正常) under the same household number (户号)."""
    cols = ("household_number", "status")
    normal = code_for("person", "person_status", "正常")
    first = _one(snap, item, subject, cols)
    other_id = params["other_id_number"]
    second = _one(snap, item, {item.key[0]: other_id}, cols) if other_id != subject[item.key[0]] else None
    ok = (
        first is not None
        and second is not None
        and first["status"] == normal
        and second["status"] == normal
        and first["household_number"] == second["household_number"]
    )
    return {"match": ok}


def _in_business(row: Row | None) -> bool:
    live = {code_for("legal_entity", "entity_status", s) for s in ("存续", "在业")}
    return row is not None and row["status"] in live


def entity_in_business(
    item: Any, snap: Any, subject: Mapping[str, str], params: Mapping[str, Any], today: date
) -> dict:
    """Registration status 存续 or 在业 (not 吊销, 注销, nor deleted)."""
    return {"match": _in_business(_one(snap, item, subject, ("status",)))}


def entity_in_district(
    item: Any, snap: Any, subject: Mapping[str, str], params: Mapping[str, Any], today: date
) -> dict:
    """In business and its registered address lies in the region."""
    row = _one(snap, item, subject, ("region_code", "status"))
    ok = _in_business(row) and (row or {}).get("region_code", "").startswith(region_prefix(params["region_code"]))
    return {"match": bool(ok)}


def entity_basic_info(
    item: Any, snap: Any, subject: Mapping[str, str], params: Mapping[str, Any], today: date
) -> dict | None:
    """Only the item's `returns` fields; the status as its Chinese label."""
    row = _one(snap, item, subject, item.returns)
    if row is None:
        return None
    out: dict[str, Any] = {k: row[k] for k in item.returns}
    if "status" in out:
        out["status"] = label_for("legal_entity", "entity_status", out["status"])
    return out


def no_blacklist(item: Any, snap: Any, subject: Mapping[str, str], params: Mapping[str, Any], today: date) -> dict:
    """No 失信黑名单 record valid on `on` (default today); a subject without records passes."""
    black = code_for("credit_record", "record_type", "失信黑名单")
    on = params.get("on") or today
    rows = _many(snap, item, subject, ("record_type", "valid_from", "valid_to"))
    return {"match": not any(r["record_type"] == black and _active_on(r, on) for r in rows)}


def no_penalty_since(item: Any, snap: Any, subject: Mapping[str, str], params: Mapping[str, Any], today: date) -> dict:
    """No 行政处罚 decided within `years` years before `on` (default today)."""
    penalty = code_for("credit_record", "record_type", "行政处罚")
    since = _years_before(params.get("on") or today, params["years"]).isoformat()
    rows = _many(snap, item, subject, ("record_type", "decision_date"))
    return {"match": not any(r["record_type"] == penalty and (r["decision_date"] or "") >= since for r in rows)}


def permit_valid_on(item: Any, snap: Any, subject: Mapping[str, str], params: Mapping[str, Any], today: date) -> dict:
    """A 行政许可 with that document number, held by the subject, valid on `on` (default today)."""
    permit = code_for("credit_record", "record_type", "行政许可")
    on = params.get("on") or today
    rows = _many(snap, item, subject, ("record_type", "document_number", "valid_from", "valid_to"))
    return {
        "match": any(
            r["record_type"] == permit and r["document_number"] == params["document_number"] and _active_on(r, on)
            for r in rows
        )
    }


def _amount_equal(stored: str | None, expected: Decimal) -> bool:
    try:
        return stored is not None and Decimal(stored) == expected
    except InvalidOperation:
        return False


def payment_paid(item: Any, snap: Any, subject: Mapping[str, str], params: Mapping[str, Any], today: date) -> dict:
    """Status 已缴 and the amount equals the expected amount exactly (to the fen)."""
    row = _one(snap, item, subject, ("amount", "status"))
    paid = code_for("payment", "payment_status", "已缴")
    return {"match": row is not None and row["status"] == paid and _amount_equal(row["amount"], params["amount"])}


def receipt_valid(item: Any, snap: Any, subject: Mapping[str, str], params: Mapping[str, Any], today: date) -> dict:
    """A receipt with that code and number exists and its payment is 已缴 (not refunded)."""
    paid = code_for("payment", "payment_status", "已缴")
    return {"match": any(r["status"] == paid for r in _many(snap, item, subject, ("status",)))}


def fee_item_paid(item: Any, snap: Any, subject: Mapping[str, str], params: Mapping[str, Any], today: date) -> dict:
    """The payer paid (已缴) the fee item on or after `since` (Beijing date of payment)."""
    paid = code_for("payment", "payment_status", "已缴")
    since = params["since"].isoformat()
    rows = _many(snap, item, subject, ("item_code", "status", "paid_at"))
    return {
        "match": any(
            r["item_code"] == params["item_code"] and r["status"] == paid and (r["paid_at"] or "")[:10] >= since
            for r in rows
        )
    }


RULES: dict[str, Rule] = {
    f.__name__: f
    for f in (
        fields_match,
        household_in_district,
        person_alive,
        age_at_least,
        same_household,
        entity_in_business,
        entity_in_district,
        entity_basic_info,
        no_blacklist,
        no_penalty_since,
        permit_valid_on,
        payment_paid,
        receipt_valid,
        fee_item_paid,
    )
}
