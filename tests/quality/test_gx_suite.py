"""GX suites generated from each contract, run on good and bad curated data."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import RESOURCES

from quality import build_suite, run_suite


@pytest.mark.parametrize("resource", RESOURCES)
def test_suite_is_generated_from_the_contract(resource, contracts):
    contract = contracts[resource]
    suite = build_suite(contract)
    kinds = [e.expectation_type for e in suite.expectations]
    required = [f.name for f in contract.fields if f.required]
    enums = sum(c.rule == "enum" for f in contract.fields for c in f.checks)
    ranges = sum(c.rule == "range" for f in contract.fields for c in f.checks)
    null_shares = len(contract.dataset.get("max_null_share") or {})
    assert suite.name == f"govhub.{resource}"
    assert kinds.count("expect_table_row_count_to_be_between") == 1
    assert kinds.count("expect_column_values_to_not_be_null") == len(required) + null_shares
    assert kinds.count("expect_column_values_to_be_unique") == 1
    assert kinds.count("expect_column_values_to_be_in_set") == enums
    assert kinds.count("expect_column_values_to_be_between") == ranges


@pytest.mark.parametrize("resource", RESOURCES)
def test_suite_passes_on_good_data_and_fails_on_bad(resource, contracts, accepted):
    contract = contracts[resource]
    good = run_suite(accepted[resource], contract)
    assert good.success, [r for r in good.results if not r["success"]]
    assert good.statistics["unsuccessful_expectations"] == 0
    json.dumps(good.to_dict())  # storable in the hub's metadata store as is

    table = accepted[resource]
    bad = pa.concat_tables([table, table.slice(0, 1)])  # a duplicate key
    result = run_suite(bad, contract)
    assert not result.success
    failed = {r["expectation"] for r in result.results if not r["success"]}
    assert "expect_column_values_to_be_unique" in failed


def test_enum_and_null_share_failures_are_reported(contracts, accepted):
    contract = contracts["person"]
    table = accepted["person"]
    table = table.set_column(table.schema.get_field_index("ethnicity"), "ethnicity", pa.array(["99"] * len(table)))
    table = table.set_column(
        table.schema.get_field_index("phone"), pa.field("phone", pa.string()), pa.nulls(len(table), pa.string())
    )
    result = run_suite(table, contract)
    failed = {(r["expectation"], r["kwargs"].get("column")) for r in result.results if not r["success"]}
    assert failed == {
        ("expect_column_values_to_be_in_set", "ethnicity"),
        ("expect_column_values_to_not_be_null", "phone"),  # max_null_share 0.5
    }


def test_large_tables_are_sampled_deterministically(contracts, accepted):
    contract = contracts["person"]
    table = accepted["person"]
    table = table.set_column(0, table.field(0), pc.binary_join_element_wise(table.column(0), pa.scalar("k"), ""))
    one = run_suite(table, contract, max_rows=3)
    two = run_suite(table, contract, max_rows=3)
    assert (one.sampled, one.total_rows, one.evaluated_rows) == (True, len(table), 3)
    assert one.results == two.results


def test_deleted_rows_are_left_out(contracts, accepted):
    contract = contracts["person"]
    table = accepted["person"].append_column("_deleted", pa.array([True] + [False] * (len(accepted["person"]) - 1)))
    result = run_suite(table, contract)
    assert (result.total_rows, result.success) == (len(table) - 1, True)


def test_the_suite_does_not_fingerprint_the_batch(contracts, accepted, monkeypatch):
    """GX's MD5 of every value (a batch marker govhub never stores) is skipped: the result is the same."""
    from great_expectations.execution_engine import pandas_execution_engine

    hashed: list[int] = []
    monkeypatch.setattr(pandas_execution_engine, "hash_pandas_dataframe", lambda df: hashed.append(len(df)) or "")
    result = run_suite(accepted["person"], contracts["person"])
    assert hashed == []
    assert result.success and result.statistics["evaluated_expectations"] > 0
