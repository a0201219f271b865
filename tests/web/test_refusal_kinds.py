"""A caller's own mistake is a client error, not a denial; a refusal keeps what an auditor can follow up."""

from __future__ import annotations

import hashlib

from conftest import USER, Api
from sqlalchemy import select

from exchange.log import ExchangeEvent
from web.refusals import refusal_window


def _newest(api: Api) -> ExchangeEvent:
    with api.session() as session:
        return session.scalars(select(ExchangeEvent).order_by(ExchangeEvent.seq.desc()).limit(1)).one()


def test_an_invalid_request_is_a_client_error_with_the_address_not_a_denial(api: Api) -> None:
    answer = api.client.post("/api/subscriptions", json={"resource": "person"}, headers=api.headers(USER))
    assert answer.status_code == 422
    event = _newest(api)
    assert (event.type, event.outcome, event.department) == ("client_error", "invalid", USER)
    assert event.details["status"] == 422 and event.details["address"] == "testclient"


def test_a_bad_department_key_is_kept_by_its_prefix_and_fingerprint(api: Api) -> None:
    claimed = api.keys[USER].rsplit(".", 1)[0]
    wrong = f"{claimed}.wrong-secret"
    assert api.client.get("/api/subscriptions", headers={"X-API-Key": wrong}).status_code == 401
    refusal_window(api.client.app).flush(everything=True)  # type: ignore[arg-type]
    event = _newest(api)
    assert (event.type, event.outcome, event.target) == ("denial", "denied", "address:testclient")
    assert event.details["keys"] == [
        {"key_fingerprint": hashlib.sha256(wrong.encode()).hexdigest()[:16], "key_id": claimed}
    ]
    assert event.details["claimed_departments"] == [USER]
