"""Verification answers enter the access record as they are logged: who asked, the case, purpose, what was told."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from exchange.access import SubjectQuery, access_record, backfill_queries
from exchange.log import ChainBrokenError, ExchangeLog, ExchangeLogError
from tests.exchange.verify_support import E_SHOP, P_UNKNOWN, P_ZHANG, ServedHub, body, build_hub


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedHub]:
    served = build_hub(tmp_path_factory.mktemp("access-hub"))
    ask = served.service.ask
    key = served.keys["all"]
    assert ask("identity_matches", client_key=key, body=body({"id_number": P_ZHANG, "name": "张三"}))[0] == 200
    assert ask("identity_matches", client_key=key, body=body({"id_number": P_ZHANG, "name": "李四"}))[0] == 200
    batch = {"case_number": "YY-QY-2026-7", "purpose": "企业开办", "subjects": [{"uscc": E_SHOP}]}
    assert ask("entity_in_business", client_key=key, body=batch, batch=True)[0] == 200
    assert ask("entity_basic_info", client_key=key, body=body({"uscc": E_SHOP}))[0] == 200
    refused = served.service.ask("person_alive", client_key=served.keys["narrow"], body=body({"id_number": P_ZHANG}))
    assert refused[0] == 403
    yield served
    served.service.writer.close()


def _record(hub: ServedHub, subject: str, kind: str = "person"):  # type: ignore[no-untyped-def]
    with Session(hub.engine) as session:
        return access_record(session, subject, kind=kind, keys=hub.service.subject_keys)  # type: ignore[arg-type]


def test_each_answer_about_a_person_is_in_their_record_with_who_and_why(hub: ServedHub) -> None:
    record = _record(hub, P_ZHANG.lower())  # the check character's case does not matter
    assert [q.answer for q in record.queries] == [{"match": False}, {"match": True}]  # newest first
    q = record.queries[0]
    assert (q.client, q.client_name, q.item) == ("all", "全部事项测试系统", "identity_matches")
    assert q.item_name and q.case_number == "YY-BDC-2026-000123" and q.purpose == "不动产登记（转移登记）"
    assert q.at.tzinfo is not None and q.resource == "person"
    # the refused question (item not granted) read nothing: it is not in the record
    assert all(x.client == "all" for x in record.queries)


def test_an_entity_sees_batch_and_value_answers_without_the_values(hub: ServedHub) -> None:
    record = _record(hub, E_SHOP, "entity")
    answers = {q.item: q.answer for q in record.queries}
    assert answers["entity_in_business"] == {"match": True}
    assert answers["entity_basic_info"] == {"fields": ["established_date", "name", "status"]}
    assert _record(hub, P_UNKNOWN).queries == []


def test_backfill_rebuilds_the_index_from_the_log_exactly_once(hub: ServedHub) -> None:
    with Session(hub.engine) as session:
        before = session.scalar(select(func.count()).select_from(SubjectQuery))
        session.execute(delete(SubjectQuery))
        session.commit()
        assert backfill_queries(session, chunk=2) == before
        assert backfill_queries(session) == 0
    assert [q.answer for q in _record(hub, P_ZHANG).queries] == [{"match": False}, {"match": True}]


def test_backfill_reads_the_answers_archived_to_parquet(tmp_path: Path) -> None:
    """Answers given before the index existed and archived since still reach the citizen's access record."""
    served = build_hub(tmp_path)
    key = served.keys["all"]
    for name in ("张三", "李四"):
        assert (
            served.service.ask("identity_matches", client_key=key, body=body({"id_number": P_ZHANG, "name": name}))[0]
            == 200
        )
    served.service.writer.close()
    with Session(served.engine) as session:  # as on a hub that answered before the index existed
        session.execute(delete(SubjectQuery))
        session.commit()
    xlog = ExchangeLog(served.engine, signer=served.signer)
    info = xlog.archive(served.lake, before=datetime.now(UTC) + timedelta(days=1))
    assert info.events >= 2 and xlog.count() == 0
    with Session(served.engine) as session:
        with pytest.raises(ExchangeLogError, match=r"archived to Parquet: give the lake"):
            backfill_queries(session)  # without the archives it refuses: no silent gap in anyone's record
        assert backfill_queries(session, archives=served.lake, chunk=1) == 2
        assert backfill_queries(session, archives=served.lake) == 0
    assert [q.answer for q in _record(served, P_ZHANG).queries] == [{"match": False}, {"match": True}]

    archive = tmp_path / "lake" / info.path  # type: ignore[operator]
    archive.write_bytes(archive.read_bytes()[:-64])  # damaged after archiving: named, never skipped
    with Session(served.engine) as session:
        session.execute(delete(SubjectQuery))
        session.commit()
        with pytest.raises(ChainBrokenError, match=r"archive file .*parquet"):
            backfill_queries(session, archives=served.lake)
