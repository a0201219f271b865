"""Personal information in quarantined rows, masked for viewers who may not see it in clear.

A quarantined row carries personal data in four places: its key (`row_key`), the whole source record
(`record`, JSON), each reason's offending `value` and the Chinese `message` quoting it. Masking uses
the delivery rules per contract PII class (`exchange.delivery.mask_column`): 430902**********12, 张**,
益阳市赫山区, `***` for sensitive values. Every clear PII string of a row is replaced wherever it
appears, so a message or a composite key cannot leak what the record column hides.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from exchange.delivery import mask_column
from schemas import Contract

__all__ = ["mask_value", "redact_rows"]

_HIDDEN = "***"


def mask_value(value: Any, *, pii: str, name: str) -> str:
    """One value masked by its field's PII class (text; `***` where the rule gives nothing back)."""
    text = str(value)
    masked = mask_column(pa.array([text], pa.string()), pii=pii, name=name)[0].as_py()
    return masked if masked else _HIDDEN


def _clear_values(row: dict[str, Any], record: Any, classes: Mapping[str, str]) -> dict[str, str]:
    """clear text -> masked text, for every PII value the row holds (longest first when replacing)."""
    found: dict[str, str] = {}
    if isinstance(record, dict):
        for name, value in record.items():
            if classes.get(name, "none") != "none" and value not in (None, ""):
                found[str(value)] = mask_value(value, pii=classes[name], name=name)
    for reason in row.get("reasons") or []:
        name = reason.get("field") or ""
        value = reason.get("value")
        if classes.get(name, "none") != "none" and value not in (None, ""):
            found.setdefault(str(value), mask_value(value, pii=classes[name], name=name))
    return {clear: masked for clear, masked in found.items() if len(clear) >= 2 and clear != masked}


def _replace(text: Any, clear: dict[str, str]) -> Any:
    if not isinstance(text, str) or not text:
        return text
    for value in sorted(clear, key=len, reverse=True):
        text = text.replace(value, clear[value])
    return text


def _masked_record(record: Any, classes: Mapping[str, str]) -> Any:
    if not isinstance(record, dict):
        return record
    return {
        name: value
        if value in (None, "") or classes.get(name, "none") == "none"
        else mask_value(value, pii=classes[name], name=name)
        for name, value in record.items()
    }


def redact_rows(rows: list[dict[str, Any]], contracts: dict[str, Contract]) -> list[dict[str, Any]]:
    """Copies of quarantine rows (`web.monitor.quarantine.quarantine_rows`) with their PII masked."""
    out = []
    for row in rows:
        contract = contracts[row["resource"]]
        classes = {f.name: f.pii for f in contract.fields}
        raw = row.get("record")
        try:
            record = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            record = raw
        clear = _clear_values(row, record, classes)
        masked = _masked_record(record, classes)
        out.append(
            {
                **row,
                "row_key": _replace(row.get("row_key"), clear),
                "record": json.dumps(masked, ensure_ascii=False)
                if isinstance(raw, str) and masked is not raw
                else _replace(masked, clear),
                "reasons": [
                    {**r, "value": _replace(r.get("value"), clear), "message": _replace(r.get("message"), clear)}
                    for r in row.get("reasons") or []
                ],
            }
        )
    return out
