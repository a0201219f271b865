"""Lineage: source system -> resource -> versions -> deliveries, with or without the delivery room."""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import OTHER_USER, USER
from sqlalchemy.orm import Session

from catalog import lineage, record_version


def _versions(session: Session) -> None:
    for version in (1, 2):
        record_version(
            session,
            resource="person",
            version=version,
            run_id=f"run-{version}",
            schema_fingerprint="abc",
            rows_total=100 * version,
            committed_at=datetime(2026, 3, version, tzinfo=UTC),
        )
    session.flush()


def test_lineage_runs_from_source_system_to_versions(session: Session) -> None:
    _versions(session)
    graph = lineage(session, "person")
    assert graph["source"]["system"] == "population"
    assert graph["source"]["label"] == "人口基础信息库"
    assert graph["source"]["provider_name"] == "市公安局"
    assert graph["resource"]["code"] == "101001001"
    assert graph["resource"]["release_date"] == "2026-03-01T08:00:00+08:00"
    assert [v["version"] for v in graph["versions"]] == [1, 2]
    assert graph["versions"][1]["rows_total"] == 200


def test_without_a_delivery_reader_lineage_says_deliveries_are_unavailable(session: Session) -> None:
    graph = lineage(session, "101001001")
    assert graph["deliveries"] == [] and graph["deliveries_available"] is False


def test_a_given_reader_adds_deliveries_filtered_by_department(session: Session) -> None:
    def reader(_session: Session, resource: str) -> list[dict]:
        return (
            [
                {
                    "subscription_id": 1,
                    "department_code": USER,
                    "version": 2,
                    "rows": 5,
                    "delivered_at": datetime(2026, 3, 2, tzinfo=UTC),
                },
                {"subscription_id": 2, "department_code": OTHER_USER, "version": 2, "rows": 7, "delivered_at": None},
            ]
            if resource == "person"
            else []
        )

    everything = lineage(session, "person", deliveries=reader)
    assert everything["deliveries_available"] is True
    assert [d["subscription_id"] for d in everything["deliveries"]] == [1, 2]
    assert everything["deliveries"][0]["delivered_at"].startswith("2026-03-02")
    mine = lineage(session, "person", department=USER, deliveries=reader)
    assert [d["department_code"] for d in mine["deliveries"]] == [USER]
