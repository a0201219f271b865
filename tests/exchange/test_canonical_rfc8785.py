"""`canonical_json` (the `rfc8785` library) writes exactly the bytes of the hub's own writer, on real payloads.

Seals and subject hashes go through the library, the exchange log through `canonical_json_inline`: one
byte of difference would break every stored seal and log chain, so both are compared here on sealed
answers (stored and freshly made), log events as appended and read back, and random JSON.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from log_support import event_kwargs
from sqlalchemy.orm import Session

from exchange.crypto import SealError, Signer, canonical_json
from exchange.crypto.canonical import canonical_json_inline
from exchange.log import ExchangeLog
from exchange.log import _hashing as hashing
from exchange.log.models import ExchangeEvent
from exchange.seal import canonical_request, leaf_bytes, seal_answer, verify_sealed

DATA = Path(__file__).parent / "data"
BEIJING = timezone(timedelta(hours=8))
CHINESE = st.text(
    alphabet=st.sampled_from('张三李四益阳市赫山区人员状态正常注册资本万元统一社会信用代码😀｡ab"\\\n\x00')
)
_floats = st.floats(allow_nan=False, allow_infinity=False)
_big_ints = st.sampled_from([2**53, -(2**53), 10**17, 10**20, 295147905179352830000, 2**60, -(2**53) - 1])
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | _big_ints  # beyond ±(2**53-1): kept when a double prints the same digits, else refused
    | _floats
    | st.text()
    | CHINESE
)
_json = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6) | CHINESE, children, max_size=4)
    ),
    max_leaves=25,
)
_extensions = (
    st.decimals(allow_nan=False, allow_infinity=False, places=2)
    | st.dates()
    | st.datetimes(timezones=st.sampled_from([UTC, BEIJING]))
)
_with_extensions = st.recursive(
    _scalars | _extensions,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(CHINESE, children, max_size=4),
    max_leaves=25,
)


def _same(value: Any, *, same_message: bool = False) -> bytes | None:
    """Both writers' bytes, asserted equal; a value without a canonical form is refused by both.

    With several faults the writers may name different ones (the library's pre-pass goes in insertion
    order, the inline writer in key order); with one fault the message is the same (`same_message`).
    """
    try:
        expected = canonical_json_inline(value)
    except SealError as refused:
        with pytest.raises(SealError) as also:
            canonical_json(value)
        assert not same_message or str(also.value) == str(refused)
        return None
    assert canonical_json(value) == expected
    return expected


@settings(max_examples=150, deadline=None)
@given(_json)
def test_random_json_is_byte_identical(value: Any) -> None:
    _same(value)


@settings(max_examples=100, deadline=None)
@given(_with_extensions)
def test_decimals_dates_and_times_are_byte_identical(value: Any) -> None:
    _same(value)


@pytest.mark.parametrize(
    "value",
    [
        {"a": float("nan")},
        [float("-inf")],
        {"x": Decimal("NaN")},
        {"id": 430902199001011234},
        {1: "a"},
        {"b": b"x"},
        {"s": {1, 2}},
        datetime(2026, 1, 1),
        "\ud800",
        {"\udc00": 1},
        {"k": ["ok", "\ud83d"]},
        2**64,
        -(2**53 + 1),
        1.7976931348623157e308,
        -0.0,
        5e-324,
        1e21,
        9.999999999999997e22,
    ],
)
def test_edges_and_refusals_are_identical(value: Any) -> None:
    _same(value, same_message=True)


@pytest.mark.parametrize("name", ["seal_v1_sm2.json", "seal_v1_ed25519.json"])
def test_stored_seals_render_identically(name: str) -> None:
    document = json.loads((DATA / name).read_text(encoding="utf-8"))
    assert _same(document) is not None
    assert _same({k: v for k, v in document.items() if k != "seal"}) is not None


@pytest.fixture(scope="module")
def ed_signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    from exchange.crypto import load_or_create_signer

    return load_or_create_signer(tmp_path_factory.mktemp("ed"), algorithm="ed25519")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=st.dictionaries(CHINESE, _with_extensions, max_size=6), subject=CHINESE)
def test_sealed_answers_are_byte_identical_and_verify(ed_signer: Signer, answer: dict[str, Any], subject: str) -> None:
    request = {
        "item": "person.status",
        "subject": {"name": subject, "id_number": "430902199001011234"},
        "purpose": "不动产登记",
    }
    try:
        canonical_json_inline(answer)
    except SealError:
        return  # lone surrogates: refused by both (see the refusal tests)
    sealed = seal_answer(ed_signer, request=request, answer=answer, item="person.status", version=7)
    _same(sealed)
    _same(canonical_request(request, item="person.status"))
    assert leaf_bytes(sealed) == canonical_json_inline({k: v for k, v in sealed.items() if k != "seal"})
    assert verify_sealed(sealed, public_key_pem=ed_signer.public_key_pem(), request=request).ok


DETAILS = [
    {"n": 1, "note": "测试"},
    {"latency": 1.25, "ratio": 1e-7, "big": 1e21, "成功": True, "nested": {"b": [1, 2.5, None], "a": "益阳"}},
    {"count": 2**53, "amount": "12.50", "😀": "astral key", "｡": "bmp key"},
    {"quote": 'a"b\\c\n\t\x01', "list": [[], {}, [{"z": 0.1}]]},
]


def test_log_events_hash_the_same_through_the_library(
    engine: sa.Engine, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    xlog = ExchangeLog(engine, signer=signer, checkpoint_every=3)
    xlog.append_many([event_kwargs(i, details=DETAILS[i % len(DETAILS)]) for i in range(12)])
    with Session(engine) as session:
        events = list(session.scalars(sa.select(ExchangeEvent).order_by(ExchangeEvent.seq)))
        rows = [{f: getattr(e, f) for f in (*hashing.HASHED_FIELDS, "hash")} for e in events]
    with engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT seq, details FROM exchange_event")).all())
    monkeypatch.setattr(hashing, "_canonical_event", canonical_json)  # every payload through rfc8785
    for row in rows:
        assert hashing.event_hash(row) == row["hash"], row["seq"]
        assert canonical_json(row["details"]).decode() == stored[row["seq"]]
    signed_at = datetime(2026, 5, 1, 8, tzinfo=UTC)
    checkpoint = hashing.checkpoint_payload(
        seq=12, head_hash=rows[-1]["hash"], signed_at=signed_at, key_id=signer.key_id, algorithm="sm2"
    )
    monkeypatch.setattr(hashing, "canonical_json_inline", canonical_json)
    assert (
        hashing.checkpoint_payload(
            seq=12, head_hash=rows[-1]["hash"], signed_at=signed_at, key_id=signer.key_id, algorithm="sm2"
        )
        == checkpoint
    )
    assert _same(date(2026, 10, 1)) == b'"2026-10-01"'
