"""The dataset-level suite every increment gets (Arrow, no GX) agrees with the GX suite it is part of."""

from __future__ import annotations

import json
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from conftest import RESOURCES

from quality import build_suite, run_dataset_suite, run_suite
from quality.expectations import expectation_specs
from quality.suite import sample_stream


def _damaged(table: pa.Table, resource: str) -> pa.Table:
    """Two repeated keys and, where the contract bounds a null share, that column all null."""
    table = pa.concat_tables([table, table.slice(0, 2)])
    if resource == "person":
        table = table.set_column(table.schema.get_field_index("phone"), "phone", pa.nulls(len(table), pa.string()))
    return table


def _key(result: dict) -> tuple:
    kwargs = result["kwargs"]
    return result["expectation"], kwargs.get("column"), str(kwargs.get("column_list")), kwargs.get("mostly")


def _by_expectation(results: list[dict]) -> dict:
    return {_key(r): r for r in results}


@pytest.mark.parametrize("resource", RESOURCES)
def test_dataset_part_of_the_suite_is_derived_from_the_contract(resource, contracts):
    contract = contracts[resource]
    specs = expectation_specs(contract)
    assert expectation_specs(contract) is specs  # derived once per contract
    dataset = [s.type for s in specs if s.dataset_level]
    nulls = len(contract.dataset.get("max_null_share") or {})
    assert dataset.count("expect_table_row_count_to_be_between") == 1
    assert dataset.count("expect_column_values_to_not_be_null") == nulls
    unique = 1 if len(contract.primary_key) == 1 else 0
    assert dataset.count("expect_column_values_to_be_unique") == unique
    assert dataset.count("expect_compound_columns_to_be_unique") == 1 - unique
    assert [e.expectation_type for e in build_suite(contract).expectations] == [s.type for s in specs]


@pytest.mark.parametrize("resource", RESOURCES)
@pytest.mark.parametrize("damage", [False, True], ids=["good", "damaged"])
def test_agrees_with_great_expectations(resource, damage, contracts, accepted):
    contract = contracts[resource]
    table = _damaged(accepted[resource], resource) if damage else accepted[resource]
    ours = run_dataset_suite(table, contract)
    theirs = _by_expectation(run_suite(table, contract).results)
    assert ours.engine == "govhub" and ours.gx_version is None
    assert ours.success is not damage
    for result in ours.results:
        gx = theirs[_key(result)]
        assert result["kwargs"] == {k: v for k, v in gx["kwargs"].items() if k in result["kwargs"]}
        assert result["success"] == gx["success"], result
        for key in ("observed_value", "element_count", "unexpected_count", "missing_count"):
            if key in gx["result"]:
                assert result["result"][key] == gx["result"][key], (key, result, gx)
        assert result["severity"] == gx["severity"] and result["meta"] == gx["meta"]
    json.dumps(ours.to_dict())


def test_reports_the_repeated_keys_and_counts_deletions_out(contracts, accepted):
    contract = contracts["person"]
    table = pa.concat_tables([accepted["person"], accepted["person"].slice(0, 1)])
    deleted = table.append_column("_deleted", pa.array([False] * (len(table) - 1) + [True]))
    assert run_dataset_suite(deleted, contract).success  # the repeated row is a deletion: not live
    result = run_dataset_suite(table, contract)
    unique = next(r for r in result.results if r["expectation"] == "expect_column_values_to_be_unique")
    assert unique["result"]["unexpected_count"] == 2
    assert unique["result"]["partial_unexpected_list"] == [table.column("id_number")[0].as_py()]
    assert result.statistics["unsuccessful_expectations"] == 1


def test_an_empty_increment_fails_only_the_row_count(contracts, accepted):
    result = run_dataset_suite(accepted["person"].slice(0, 0), contracts["person"])
    failed = [r["expectation"] for r in result.results if not r["success"]]
    assert failed == ["expect_table_row_count_to_be_between"]


def test_takes_a_sampled_stream(contracts, accepted):
    table = accepted["payment"]
    sampled = sample_stream(lambda columns: table.select(columns or table.column_names).to_reader(), max_rows=4)
    result = run_dataset_suite(sampled, contracts["payment"])
    assert (result.total_rows, result.evaluated_rows, result.sampled) == (len(table), 4, True)


def test_needs_no_great_expectations_import(tmp_path):
    code = (
        "import sys; from quality import run_dataset_suite; from schemas import load_contract; "
        "import pyarrow as pa; from schemas import arrow_schema; c = load_contract('person'); "
        "r = run_dataset_suite(arrow_schema(c).empty_table(), c); "
        "print('great_expectations' in sys.modules)"
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_gx_context_and_suite_are_made_once_per_process(contracts, accepted):
    from quality import suite as gx_suite

    contract = contracts["person"]
    first = run_suite(accepted["person"], contract)
    context, suite = gx_suite._context(), build_suite(contract)
    again = run_suite(pc.take(accepted["person"], pa.array([0, 1])), contract)
    assert gx_suite._context() is context and build_suite(contract) is suite
    assert first.success and again.success and again.evaluated_rows == 2
