"""Reference checks given compact key sets (what the pipeline passes) decide as with value arrays."""

import pyarrow as pa
import pytest
from quality_factories import TODAY, as_table, good_rows

from lake import KeySet
from quality import validate


@pytest.mark.parametrize("resource", ["legal_entity", "credit_record", "payment"])
def test_validate_with_key_sets_gives_the_verdict_of_arrays(resource, contracts, references):
    contract = contracts[resource]
    table = as_table(good_rows(resource, 5), contract)
    sets = {t: KeySet.of(v) for t, v in references.items()}
    by_array = validate(table, contract, references=references, today=TODAY)
    by_set = validate(table, contract, references=sets, today=TODAY)
    assert by_set.counts == by_array.counts == {"rows": 5, "accepted": 5, "rejected": 0, "warned": 0}
    empty = {t: KeySet.of(pa.array([], pa.string())) for t in references}
    refused = validate(table, contract, references=empty, today=TODAY)
    assert refused.counts["rejected"] == 5
    assert {r["rule"] for r in refused.rejected.column("reasons").to_pylist()[0]} == {"references"}
