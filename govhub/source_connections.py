"""Source-system connection settings from Airflow connections (`govhub_<system>`), for ingests under Airflow.

A deployment may keep the source systems' addresses and secrets in Airflow (its UI, a secrets backend,
or `AIRFLOW_CONN_GOVHUB_<SYSTEM>` variables) instead of GOVHUB_* variables. `ResourceContext.connector()`
lays the Airflow connection's keys over `Settings.source_config(contract)`, so a connection wins where
it says something and the GOVHUB_* tuning (timeouts, retries) stays. Conn ids and what they hold:

- `govhub_population`, `govhub_legal_entity` (sql): the connection's type, host, port, login, password
  and schema (the database or SQLite file) -> a SQLAlchemy URL; `extra` -> the URL's query.
- `govhub_credit` (http): schema (http/https, default http) + host + port -> `base_url`; password ->
  `token`; `extra` may set timeout, max_retries, page_size, backoff, max_backoff.
- `govhub_nontax` (filedrop): `extra` {"inbox": "/path/to/inbox"}.

Airflow is consulted only when this process already imported it (a task under a worker or `dag.test()`)
or `AIRFLOW_CONN_GOVHUB_<SYSTEM>` is set: the CLI and web app never pay Airflow's import (seconds) nor
let it write `~/airflow`.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import sqlalchemy as sa

from schemas import Contract, SettingsError

__all__ = ["airflow_conn_id", "airflow_source_config"]

log = logging.getLogger(__name__)

# Airflow conn types (as the UI and URIs name them) -> SQLAlchemy drivers govhub ships
_SQL_DRIVERS = {
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "sqlite": "sqlite",
}
_HTTP_EXTRAS = {"timeout": float, "max_retries": int, "page_size": int, "backoff": float, "max_backoff": float}


def airflow_conn_id(contract: Contract) -> str:
    """The Airflow conn id of a contract's source system: `govhub_<system>`."""
    return f"govhub_{contract.source.system}"


def airflow_source_config(contract: Contract) -> dict[str, Any] | None:
    """The source's connection settings from its Airflow connection; None when there is none.

    None also when Airflow is not importable or not in use in this process. A connection that exists
    but does not say what the source needs raises SettingsError naming the conn id.
    """
    conn_id = airflow_conn_id(contract)
    conn = _lookup(conn_id)
    if conn is None:
        return None
    kind = contract.source.kind
    if kind == "sql":
        return {"url": _sql_url(conn_id, conn)}
    if kind == "http":
        return _http_config(conn_id, conn)
    if kind == "filedrop":
        inbox = _extra(conn_id, conn).get("inbox")
        if not inbox or not isinstance(inbox, str):
            raise SettingsError(
                _name(conn_id), 'a connection whose extra is {"inbox": "/path/to/inbox"}', _describe(conn)
            )
        return {"inbox": inbox}
    expected = "a source kind govhub reads from an Airflow connection (sql, http, filedrop)"
    raise SettingsError(_name(conn_id), expected, kind)


def _lookup(conn_id: str) -> Any | None:
    """The Airflow connection, or None (no such connection, Airflow absent or not in use here)."""
    variable = f"AIRFLOW_CONN_{conn_id.upper()}"
    if "airflow.sdk" not in sys.modules and not os.environ.get(variable):
        return None
    try:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:
        return None
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None
    except Exception as e:  # a malformed AIRFLOW_CONN_* value, an unreachable secrets backend
        raise SettingsError(
            _name(conn_id),
            f"a readable Airflow connection ({type(e).__name__}: {e})",
            variable if os.environ.get(variable) else None,
        ) from e
    log.info("source connection from Airflow connection %s", conn_id)
    return conn


def _sql_url(conn_id: str, conn: Any) -> str:
    """The SQLAlchemy URL of a SQL connection (drivers mapped to the ones govhub ships)."""
    conn_type = (conn.conn_type or "").lower()
    driver = conn_type if "+" in conn_type else _SQL_DRIVERS.get(conn_type)
    if driver is None:
        raise SettingsError(
            _name(conn_id), f"a database connection (type one of {', '.join(sorted(_SQL_DRIVERS))})", _describe(conn)
        )
    if not conn.schema:
        raise SettingsError(
            _name(conn_id), "the database (or SQLite file) in the connection's schema field", _describe(conn)
        )
    if not driver.startswith("sqlite") and not conn.host:
        raise SettingsError(_name(conn_id), "the database server's host", _describe(conn))
    query = {str(k): str(v) for k, v in _extra(conn_id, conn).items()}
    url = sa.URL.create(
        driver,
        username=conn.login or None,
        password=conn.password or None,
        host=conn.host or None,
        port=conn.port or None,
        database=conn.schema,
        query=query,
    )
    return url.render_as_string(hide_password=False)


def _http_config(conn_id: str, conn: Any) -> dict[str, Any]:
    """base_url and token (plus tuning from extra) of an HTTP connection."""
    if not conn.host:
        raise SettingsError(_name(conn_id), "an http connection with the API's host", _describe(conn))
    if not conn.password:
        raise SettingsError(_name(conn_id), "an http connection with the API token as its password", _describe(conn))
    if "://" in conn.host:
        base_url = conn.host
    else:
        scheme = (conn.schema or "http").lower()
        if scheme not in ("http", "https"):
            raise SettingsError(_name(conn_id), "http or https in the connection's schema field", conn.schema)
        base_url = f"{scheme}://{conn.host}" + (f":{conn.port}" if conn.port else "")
    config: dict[str, Any] = {"base_url": base_url.rstrip("/"), "token": conn.password}
    for key, cast in _HTTP_EXTRAS.items():
        value = _extra(conn_id, conn).get(key)
        if value is None:
            continue
        try:
            config[key] = cast(value)
        except (TypeError, ValueError) as e:
            raise SettingsError(f"{_name(conn_id)} extra.{key}", f"a {cast.__name__}", value) from e
    return config


def _extra(conn_id: str, conn: Any) -> dict[str, Any]:
    """The connection's extra as a dict (Airflow logs and drops malformed JSON; govhub refuses it)."""
    if not conn.extra:
        return {}
    import json

    try:
        extra = json.loads(conn.extra)
    except ValueError as e:
        raise SettingsError(f"{_name(conn_id)} extra", "a JSON object", "<malformed JSON>") from e
    if not isinstance(extra, dict):
        raise SettingsError(f"{_name(conn_id)} extra", "a JSON object", type(extra).__name__)
    return extra


def _name(conn_id: str) -> str:
    return f"Airflow connection {conn_id}"


def _describe(conn: Any) -> str:
    """The connection without secrets, for error messages."""
    return f"conn_type={conn.conn_type!r}, host={conn.host!r}, port={conn.port!r}, schema={conn.schema!r}"
