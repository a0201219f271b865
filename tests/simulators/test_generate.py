from __future__ import annotations

import collections

import numpy as np
import pyarrow as pa
import sqlalchemy as sa

from quality.codes import check_region_codes, id_birth_dates, id_genders, valid_id_numbers, valid_usccs
from simulators import BAD_KINDS, SIM_EPOCH, count_by_kind, generate_entities, generate_persons


def _rows(url, table):
    eng = sa.create_engine(url)
    with eng.connect() as c:
        rows = c.exec_driver_sql(f"SELECT * FROM {table}").mappings().all()
    eng.dispose()
    return rows


def test_same_seed_same_rows_other_seed_other_rows():
    a = generate_persons(500, seed=3, bad_share=0.02, epoch=SIM_EPOCH)
    b = generate_persons(500, seed=3, bad_share=0.02, epoch=SIM_EPOCH)
    c = generate_persons(500, seed=4, bad_share=0.02, epoch=SIM_EPOCH)
    assert a.rows() == b.rows() and a.bad == b.bad
    assert a.columns["id_number"] != c.columns["id_number"]
    assert (
        generate_entities(50, a, seed=3, bad_share=0, epoch=SIM_EPOCH).rows()
        == generate_entities(50, b, seed=3, bad_share=0, epoch=SIM_EPOCH).rows()
    )


def test_good_persons_are_consistent_national_records():
    p = generate_persons(3000, seed=1, bad_share=0.0, epoch=SIM_EPOCH)
    ids = pa.array(p.columns["id_number"])
    assert valid_id_numbers(ids).to_pylist() == [True] * 3000
    assert len(set(p.columns["id_number"])) == 3000
    births = [d.isoformat() for d in id_birth_dates(ids).to_pylist()]
    assert births == p.columns["birth_date"]
    assert [str(g) for g in id_genders(ids).to_pylist()] == p.columns["gender"]
    assert all(check_region_codes(pa.array(p.columns["region_code"])).to_pylist())
    assert {c[:4] for c in p.columns["region_code"]} == {"4309"}
    eth = collections.Counter(p.columns["ethnicity"])
    assert eth["01"] > 0.85 * 3000 and len(eth) > 3
    assert all(len(h) == 9 and h.isdigit() for h in p.columns["household_number"])
    assert collections.Counter(p.columns["status"]).most_common(1)[0][0] == "1"


def test_bad_records_match_request_and_break_the_contract():
    p = generate_persons(2000, seed=2, bad_share=0.05, epoch=SIM_EPOCH)
    counts = count_by_kind(p.bad)
    assert sum(counts.values()) == 100 and set(counts) == set(BAD_KINDS)
    assert max(counts.values()) - min(counts.values()) <= 1
    ids = pa.array(p.columns["id_number"])
    assert valid_id_numbers(ids).to_pylist().count(False) == counts["check_char"]
    assert sum(n is None for n in p.columns["name"]) == counts["missing_required"]
    impossible = [b for b in p.bad if b.kind == "impossible_date"]
    assert all(b.value[5:] in ("02-30", "02-31", "04-31", "06-31", "09-31", "11-31") for b in impossible)
    assert int(np.sum(~p.good)) == 100


def test_home_references_exist_and_timestamps_are_shared(home):
    persons = _rows(home.population_url, "person")
    entities = _rows(home.legal_entity_url, "legal_entity")
    credit = _rows(home.credit_url, "credit_record")
    person_ids = {r["id_number"] for r in persons}
    assert {r["legal_rep_id"] for r in entities} <= person_ids
    usccs = {r["uscc"] for r in entities}
    good_usccs = [r["uscc"] for r in entities if r["uscc"] not in {b.key for b in home.bad_records}]
    assert all(valid_usccs(pa.array(good_usccs)).to_pylist())
    assert all(r["uscc"][:2] == r["entity_type"] for r in entities if r["entity_type"] != "99")
    for r in credit:
        target = usccs if r["subject_type"] == "legal" else person_ids
        assert r["subject_code"] in target
    for rows in (persons, entities, credit):
        stamps = collections.Counter(r["updated_at"] for r in rows)
        assert sum(1 for c in stamps.values() if c > 1) > 5, "batches must share updated_at"


def test_home_bad_counts_per_resource(home):
    bad = home.bad_records
    assert sum(count_by_kind(bad, resource="person").values()) == round(3000 * 0.04)
    assert sum(count_by_kind(bad, resource="legal_entity").values()) == round(300 * 0.04)
    assert sum(count_by_kind(bad, resource="credit_record").values()) == round(150 * 0.04)
    pay = count_by_kind(bad, resource="payment")
    assert sum(pay.values()) == 3 * round(15 * 0.04)


def test_entities_of_every_registration_authority_pass_the_contract():
    """The generator draws entity types from the contract's code table, and the quality code table
    accepts every USCC it builds: law firms, religious venues, trade unions, village collectives too."""
    from quality import validate
    from quality.codes import AUTHORITY_TYPES
    from schemas import load_contract

    persons = generate_persons(3000, seed=5, bad_share=0.0, epoch=SIM_EPOCH)
    entities = generate_entities(20000, persons, seed=5, bad_share=0.0, epoch=SIM_EPOCH)
    contract = load_contract("legal_entity")
    types = collections.Counter(entities.columns["entity_type"])
    assert set(types) == set(contract.code_tables["entity_type"].codes)  # every pair occurs at this size
    assert {t[0] for t in types} == set(AUTHORITY_TYPES)
    assert all(code[:2] == t for code, t in zip(entities.columns["uscc"], entities.columns["entity_type"], strict=True))
    table = pa.Table.from_pylist(entities.rows())
    references = {"person.id_number": pa.array(persons.columns["id_number"])}
    verdict = validate(table, contract, references=references, today=SIM_EPOCH.date())
    assert verdict.counts["rejected"] == 0 and verdict.counts["warned"] == 0, verdict.rejected.to_pylist()[:3]
    authorities = dict(zip(entities.columns["entity_type"], entities.columns["registration_authority"], strict=True))
    assert authorities["31"] == "益阳市司法局" and authorities["81"] == "益阳市总工会"
