"""Pending rows: only-late references are set aside, and quarantined rows validate again as they came."""

from __future__ import annotations

import pyarrow as pa
from quality_factories import TODAY, as_table, good_rows, reference_values

from quality import expired_reason, rebuild_batch, split_pending, validate

EMPTY = {"person.id_number": pa.array([], pa.string()), "legal_entity.uscc": pa.array([], pa.string())}


def test_only_references_failing_rows_are_pending(contracts) -> None:
    contract = contracts["credit_record"]
    rows = good_rows("credit_record", 3)
    rows[1]["authority_uscc"] = "not a uscc"  # fails gb32100 too: stays rejected
    verdict = validate(as_table(rows, contract), contract, references=EMPTY, today=TODAY)
    assert verdict.counts["rejected"] == 3
    rejected, pending = split_pending(verdict.rejected)
    assert pending.column("row_key").to_pylist() == [rows[0]["record_id"], rows[2]["record_id"]]
    assert rejected.column("row_key").to_pylist() == [rows[1]["record_id"]]
    assert rejected.num_rows + pending.num_rows == verdict.rejected.num_rows


def test_nothing_pending_without_reference_failures(contracts) -> None:
    contract = contracts["person"]
    rows = good_rows("person", 2)
    rows[0]["name"] = ""
    verdict = validate(as_table(rows, contract), contract, today=TODAY)
    rejected, pending = split_pending(verdict.rejected)
    assert pending.num_rows == 0 and rejected.num_rows == 1
    empty_rejected, empty_pending = split_pending(verdict.rejected.schema.empty_table())
    assert empty_rejected.num_rows == empty_pending.num_rows == 0


def test_rebuilt_rows_validate_to_the_same_values_once_the_reference_exists(contracts) -> None:
    contract = contracts["credit_record"]
    rows = good_rows("credit_record", 4)
    source = as_table(rows, contract, _deleted=[False, False, False, True])
    first = validate(source, contract, references=EMPTY, today=TODAY)
    _, pending = split_pending(first.rejected)
    assert pending.num_rows == 3  # the source deletion needs only its key
    again = validate(rebuild_batch(pending, contract), contract, references=reference_values(), today=TODAY)
    direct = validate(source, contract, references=reference_values(), today=TODAY)
    assert again.counts["accepted"] == 3 and again.counts["rejected"] == 0
    assert again.accepted.equals(direct.accepted.slice(0, 3))


def test_expired_reason_names_the_referenced_resources() -> None:
    reason = expired_reason(3, ("legal_entity", "person"))
    assert reason["rule"] == "pending_expired" and reason["severity"] == "error"
    assert "legal_entity、person" in reason["message"] and "3个新版本" in reason["message"]
