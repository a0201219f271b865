"""Fixtures for the connector tests; the helpers live in connector_support (importable by name)."""

from connector_support import credit, mariadb_url, payment, person, postgres_url, sqlite_url  # noqa: F401
