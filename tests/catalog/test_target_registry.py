"""Delivery targets: departments pick their own registered names; the hub refuses its own stores and
other departments' targets, however the URL is spelled; what a department is told never has a host."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import OTHER_USER, USER
from sqlalchemy.orm import Session

from catalog import CatalogError, apply, list_targets, register_target, resolve_connection, resolve_target_url
from catalog.target_identity import endpoint_of, same_endpoint
from schemas import AccessDenied
from tests.target_support import file_target

APPLICATION = {
    "resource": "person",
    "purpose": "社会保险待遇资格认证",
    "legal_basis": "《社会保险法》第七十五条",
    "fields": ["name", "status"],
}


def _apply(session: Session, department: str = USER, **changes: object):  # type: ignore[no-untyped-def]
    return apply(session, department_code=department, **(APPLICATION | {"delivery_mode": "database"} | changes))


def test_a_department_applies_with_one_of_its_own_target_names(session: Session, tmp_path: Path) -> None:
    file_target(session, tmp_path, USER, "person-db", f"sqlite:///{tmp_path / 'rsj.db'}")
    file_target(session, tmp_path, OTHER_USER, "zj-db", f"sqlite:///{tmp_path / 'zj.db'}")
    sub = _apply(session, target="person-db")
    assert sub.target_name == "person-db"
    with pytest.raises(CatalogError, match="has no delivery target named 'zj-db'") as caught:
        _apply(session, target="zj-db")  # another department's name is not this department's
    assert caught.value.kind == "not_found"
    with pytest.raises(CatalogError, match="database delivery needs target"):
        _apply(session)
    with pytest.raises(CatalogError, match="file delivery takes none"):
        _apply(session, delivery_mode="file", target="person-db")


HUB_SPELLINGS = [
    pytest.param("sqlite:///{hub}", id="same-path"),
    pytest.param("sqlite:///{hub_dir}/./sub/../govhub.db", id="dot-segments"),
    pytest.param("sqlite:///{link}", id="symlink"),
    pytest.param("sqlite:///{hardlink}", id="hard-link"),
]


@pytest.mark.parametrize("spelling", HUB_SPELLINGS)
def test_a_target_reaching_the_hub_metadata_store_is_refused(
    session: Session, db_url: str, tmp_path: Path, spelling: str
) -> None:
    hub = Path(db_url.removeprefix("sqlite:///"))
    (tmp_path / "sub").mkdir(exist_ok=True)
    link = tmp_path / "innocent.db"
    link.symlink_to(hub)
    hardlink = tmp_path / "other-name.db"
    os.link(hub, hardlink)
    url = spelling.format(hub=hub, hub_dir=hub.parent, link=link, hardlink=hardlink)
    with pytest.raises(AccessDenied, match="reaches a store of the hub itself") as caught:
        file_target(session, tmp_path / "secrets", USER, "person-db", url, reserved={"hub metadata store": db_url})
    assert str(hub) not in str(caught.value) and str(tmp_path) not in str(caught.value)
    assert list_targets(session) == []


NETWORK_SPELLINGS = [
    pytest.param("postgresql+psycopg://rs:pw@localhost/govhub", id="localhost-default-port"),
    pytest.param("postgresql+psycopg://rs@127.0.0.1:5432/govhub", id="ipv4-loopback"),
    pytest.param("postgresql+psycopg://rs@127.0.0.2:5432/govhub", id="another-loopback"),
    pytest.param("postgresql+psycopg://rs@[::1]:5432/govhub", id="ipv6-loopback"),
    pytest.param("postgresql+psycopg://rs@0.0.0.0/govhub", id="unspecified"),
    pytest.param("postgresql+psycopg://rs@/govhub?host=/var/run/postgresql", id="unix-socket"),
    pytest.param("postgresql://postgres@LOCALHOST:5432/govhub", id="upper-case-host"),
]


@pytest.mark.parametrize("url", NETWORK_SPELLINGS)
def test_network_spellings_of_the_hub_store_are_one_endpoint(session: Session, tmp_path: Path, url: str) -> None:
    hub = "postgresql+psycopg://govhub:secret@127.0.0.1:5432/govhub"
    assert same_endpoint(endpoint_of(url), endpoint_of(hub))
    with pytest.raises(AccessDenied, match="reaches a store of the hub itself") as caught:
        file_target(session, tmp_path, USER, "person-db", url, reserved={"hub metadata store": hub})
    for detail in ("127.0.0.1", "localhost", "5432", "govhub:secret", str(tmp_path)):
        assert detail not in str(caught.value)


def test_another_database_or_port_is_not_the_hub(session: Session, tmp_path: Path) -> None:
    hub = endpoint_of("postgresql+psycopg://govhub@127.0.0.1:5432/govhub")
    assert not same_endpoint(endpoint_of("postgresql+psycopg://rs@127.0.0.1:5432/rsj"), hub)
    assert not same_endpoint(endpoint_of("postgresql+psycopg://rs@127.0.0.1:5433/govhub"), hub)
    assert not same_endpoint(endpoint_of("mysql+pymysql://rs@127.0.0.1:5432/govhub"), hub)
    assert same_endpoint(endpoint_of("mysql+pymysql://a@127.0.0.1/RSJ"), endpoint_of("mariadb://b@localhost:3306/rsj"))


def test_another_departments_target_is_refused_however_spelled(session: Session, tmp_path: Path) -> None:
    file_target(session, tmp_path, OTHER_USER, "zj-db", "postgresql+psycopg://zj:pw@127.0.0.1:5432/zhujian")
    with pytest.raises(AccessDenied, match="another department's target") as caught:
        file_target(session, tmp_path, USER, "mine", "postgresql+psycopg://rs@localhost/zhujian")
    assert "zj-db" not in str(caught.value) and "zhujian" not in str(caught.value)
    file_target(session, tmp_path, USER, "mine", "postgresql+psycopg://rs@localhost/renshe")  # its own database


def test_a_target_retargeted_behind_the_hubs_back_is_refused_at_delivery(
    session: Session, db_url: str, tmp_path: Path
) -> None:
    target = file_target(session, tmp_path, USER, "person-db", f"sqlite:///{tmp_path / 'rsj.db'}")
    secret = Path(target.connection_ref.removeprefix("file:"))
    assert resolve_target_url(session, USER, "person-db", reserved={"hub": db_url}).endswith("rsj.db")
    secret.write_text(db_url)  # the secret now points at the hub's own store
    with pytest.raises(AccessDenied, match="reaches a store of the hub itself"):
        resolve_target_url(session, USER, "person-db", reserved={"hub": db_url})
    secret.unlink()
    with pytest.raises(CatalogError, match=r"'person-db' of department .* is not configured correctly") as caught:
        resolve_target_url(session, USER, "person-db")
    assert str(tmp_path) not in str(caught.value)


def test_connections_held_in_settings_and_bad_references(session: Session) -> None:
    refs = {"rsj": "postgresql+psycopg://rs@db.rsj.example/rsj"}
    assert resolve_connection("setting:rsj", settings_targets=refs) == refs["rsj"]
    for bad in ("setting:missing", "ftp:x", "file:/nonexistent/secret"):
        with pytest.raises(ValueError):
            resolve_connection(bad, settings_targets=refs)
    with pytest.raises(CatalogError, match="must be 1-64 lower-case"):
        register_target(
            session,
            department_code=USER,
            name="Bad Name",
            connection_ref="setting:rsj",
            reserved={},
            settings_targets=refs,
        )
