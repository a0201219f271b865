from __future__ import annotations

import collections

import pytest
import sqlalchemy as sa

from schemas import load_contract
from simulators.testing import MARIADB_URL, POSTGRES_URL, population_db, server_available, server_database


def _check_registry(url, persons):
    eng = sa.create_engine(url)
    insp = sa.inspect(eng)
    cols = {c["name"]: c for c in insp.get_columns("person")}
    contract = load_contract("person")
    assert list(cols) == [*contract.field_names, contract.source.deleted_flag]
    assert isinstance(cols["birth_date"]["type"], sa.String) and cols["birth_date"]["type"].length == 10
    idx = [i["column_names"] for i in insp.get_indexes("person")]
    assert ["updated_at", "id_number"] in idx
    with eng.begin() as c:
        rows = c.execute(sa.text("SELECT id_number, birth_date, updated_at FROM person")).fetchall()
        assert len(rows) == len(persons)
        assert any(r[1][5:] in ("02-30", "02-31", "04-31", "06-31") for r in rows), "impossible dates stored"
        stamps = collections.Counter(r[2] for r in rows)
        assert any(n > 1 for n in stamps.values())
        assert any("." in str(r[2]) for r in rows), "microseconds survive"
        key, old = rows[0][0], rows[0][2]
        c.execute(sa.text("UPDATE person SET name = 'X' WHERE id_number = :k"), {"k": key})
        new = c.execute(sa.text("SELECT updated_at FROM person WHERE id_number = :k"), {"k": key}).scalar()
    assert new != old, "the touch trigger bumps updated_at on a manual edit"
    eng.dispose()


def test_sqlite_registry(tmp_path):
    url, persons = population_db(tmp_path, size=800, bad_share=0.05)
    _check_registry(url, persons)


@pytest.mark.services
@pytest.mark.parametrize("server", [MARIADB_URL, POSTGRES_URL], ids=["mariadb", "postgresql"])
def test_server_registry(tmp_path, server):
    if not server_available(server):
        pytest.skip(f"no database server answers at {sa.make_url(server).host}:{sa.make_url(server).port}")
    with server_database(server) as url:
        _, persons = population_db(tmp_path, size=800, bad_share=0.05, url=url)
        _check_registry(url, persons)
