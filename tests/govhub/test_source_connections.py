"""Source connections from Airflow connections (AIRFLOW_CONN_GOVHUB_* in URI or JSON form)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govhub.pipeline.resources import ResourceContext
from govhub.settings import Settings
from govhub.source_connections import airflow_conn_id, airflow_source_config
from lake import Lake
from schemas import SettingsError, load_contract

CONN_VARS = (
    "AIRFLOW_CONN_GOVHUB_POPULATION",
    "AIRFLOW_CONN_GOVHUB_LEGAL_ENTITY",
    "AIRFLOW_CONN_GOVHUB_CREDIT",
    "AIRFLOW_CONN_GOVHUB_NONTAX",
)


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An AIRFLOW_HOME of the module's own: Airflow reads its configuration at the first import."""
    return tmp_path_factory.mktemp("airflow")


@pytest.fixture(scope="function", autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, airflow_home: Path) -> None:
    monkeypatch.setenv("AIRFLOW_HOME", str(airflow_home))
    monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    for variable in CONN_VARS:
        monkeypatch.delenv(variable, raising=False)


def test_conn_ids_follow_the_source_system() -> None:
    assert airflow_conn_id(load_contract("person")) == "govhub_population"
    assert airflow_conn_id(load_contract("legal_entity")) == "govhub_legal_entity"
    assert airflow_conn_id(load_contract("credit_record")) == "govhub_credit"
    assert airflow_conn_id(load_contract("payment")) == "govhub_nontax"


def test_no_connection_gives_none() -> None:
    for resource in ("person", "legal_entity", "credit_record", "payment"):
        assert airflow_source_config(load_contract(resource)) is None


def test_sql_connection_uri_becomes_a_sqlalchemy_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_GOVHUB_POPULATION", "postgres://reader:p%40ss@db.example:5432/population?sslmode=require"
    )
    config = airflow_source_config(load_contract("person"))
    assert config == {"url": "postgresql+psycopg://reader:p%40ss@db.example:5432/population?sslmode=require"}


def test_sql_connection_json_form(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_GOVHUB_LEGAL_ENTITY",
        json.dumps(
            {
                "conn_type": "mysql",
                "host": "registry",
                "port": 3306,
                "login": "registry",
                "password": "s3cret",
                "schema": "legal_entity",
                "extra": {"charset": "utf8mb4"},
            }
        ),
    )
    config = airflow_source_config(load_contract("legal_entity"))
    assert config == {"url": "mysql+pymysql://registry:s3cret@registry:3306/legal_entity?charset=utf8mb4"}
    sqlite = {"conn_type": "sqlite", "schema": str(tmp_path / "le.sqlite")}
    monkeypatch.setenv("AIRFLOW_CONN_GOVHUB_LEGAL_ENTITY", json.dumps(sqlite))
    assert airflow_source_config(load_contract("legal_entity")) == {"url": f"sqlite:///{tmp_path / 'le.sqlite'}"}


def test_http_connection_gives_base_url_and_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_GOVHUB_CREDIT",
        json.dumps(
            {
                "conn_type": "http",
                "host": "credit.example",
                "port": 8443,
                "schema": "https",
                "password": "the-token",
                "extra": {"timeout": "30", "max_retries": 2},
            }
        ),
    )
    config = airflow_source_config(load_contract("credit_record"))
    assert config == {
        "base_url": "https://credit.example:8443",
        "token": "the-token",
        "timeout": 30.0,
        "max_retries": 2,
    }
    monkeypatch.setenv("AIRFLOW_CONN_GOVHUB_CREDIT", "http://:tok-uri@credit.local:8701/http")
    assert airflow_source_config(load_contract("credit_record")) == {
        "base_url": "http://credit.local:8701",
        "token": "tok-uri",
    }


def test_filedrop_connection_gives_the_inbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_GOVHUB_NONTAX", json.dumps({"conn_type": "fs", "extra": {"inbox": str(tmp_path)}}))
    assert airflow_source_config(load_contract("payment")) == {"inbox": str(tmp_path)}


@pytest.mark.parametrize(
    ("variable", "value", "resource", "expected"),
    [
        (
            "AIRFLOW_CONN_GOVHUB_CREDIT",
            {"conn_type": "http", "host": "credit.example"},
            "credit_record",
            "govhub_credit is invalid: expected an http connection with the API token as its password",
        ),
        (
            "AIRFLOW_CONN_GOVHUB_CREDIT",
            {"conn_type": "http", "password": "s3cret-pw"},
            "credit_record",
            "govhub_credit is invalid: expected an http connection with the API's host",
        ),
        (
            "AIRFLOW_CONN_GOVHUB_POPULATION",
            {"conn_type": "http", "host": "h", "schema": "db"},
            "person",
            "govhub_population is invalid: expected a database connection",
        ),
        (
            "AIRFLOW_CONN_GOVHUB_POPULATION",
            {"conn_type": "postgres", "host": "db"},
            "person",
            "govhub_population is invalid: expected the database",
        ),
        (
            "AIRFLOW_CONN_GOVHUB_NONTAX",
            {"conn_type": "fs"},
            "payment",
            'govhub_nontax is invalid: expected a connection whose extra is {"inbox"',
        ),
    ],
)
def test_a_misconfigured_connection_names_the_conn_id(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: dict, resource: str, expected: str
) -> None:
    monkeypatch.setenv(variable, json.dumps(value))
    with pytest.raises(SettingsError, match="^setting Airflow connection " + expected.replace("(", r"\(")) as e:
        airflow_source_config(load_contract(resource))
    assert "s3cret-pw" not in str(e.value)  # the password never appears


def test_connector_prefers_the_airflow_connection(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """ResourceContext.connector(): the connection's keys win, GOVHUB_* tuning stays."""
    settings = Settings(home=tmp_path / "hub", credit_timeout=7.5, population_url="sqlite:////nowhere/pop.sqlite")
    person = ResourceContext(contract=load_contract("person"), settings=settings, lake=Lake(str(tmp_path / "lake")))
    credit = ResourceContext(contract=load_contract("credit_record"), settings=settings, lake=person.lake)
    assert str(person.connector().url) == "sqlite:////nowhere/pop.sqlite"
    sqlite = {"conn_type": "sqlite", "schema": str(tmp_path / "p.sqlite")}
    monkeypatch.setenv("AIRFLOW_CONN_GOVHUB_POPULATION", json.dumps(sqlite))
    assert str(person.connector().url) == f"sqlite:///{tmp_path / 'p.sqlite'}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_GOVHUB_CREDIT",
        json.dumps({"conn_type": "http", "host": "c.example", "password": "airflow-token"}),
    )
    connector = credit.connector()
    assert connector.url.startswith("http://c.example/")
    assert connector.config["token"] == "airflow-token"
    assert connector.timeout == 7.5
