"""Which database a SQLAlchemy URL really reaches: resolved host addresses, port and database name.

Two URLs are the same target when they reach the same database, however they are spelled:
`localhost`, `127.0.0.1`, `[::1]`, `0.0.0.0`, a Unix socket and the machine's own addresses are all
this machine; a host name counts by the addresses it resolves to; an absent port is the dialect's
default; a SQLite file counts by its real path (symlinks followed) or, when it exists, its inode.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["Endpoint", "endpoint_of", "same_endpoint"]

_FAMILIES = {
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
    "mssql": "mssql",
    "oracle": "oracle",
    "sqlite": "sqlite",
}
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433, "oracle": 1521}
_THIS_MACHINE = "this-machine"


@dataclass(frozen=True)
class Endpoint:
    """Where a URL connects: dialect family, host addresses, port and database (a file for SQLite)."""

    family: str
    hosts: frozenset[str]
    port: int | None
    database: str


@lru_cache(maxsize=1)
def _own_addresses() -> frozenset[str]:
    """This machine's addresses (a connection to any of them reaches local services)."""
    found: set[str] = set()
    for name in {socket.gethostname(), socket.getfqdn()}:
        try:
            found.update(str(info[4][0]) for info in socket.getaddrinfo(name, None))
        except OSError:
            continue
    return frozenset(found)


def _host_addresses(host: str | None, port: int | None) -> frozenset[str]:
    if not host or host.startswith("/"):  # no host: the driver's local Unix socket
        return frozenset({_THIS_MACHINE})
    try:
        addresses = {str(info[4][0]).split("%")[0] for info in socket.getaddrinfo(host.strip("[]"), port)}
    except (OSError, UnicodeError):
        return frozenset({host.lower()})  # unresolvable: only the same spelling can match
    out: set[str] = set()
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            out.add(address)
            continue
        if ip.is_loopback or ip.is_unspecified or address in _own_addresses():
            out.add(_THIS_MACHINE)
        else:
            out.add(str(ip))
    return frozenset(out)


def endpoint_of(url: str) -> Endpoint:
    """The endpoint a SQLAlchemy URL reaches; ValueError for a URL SQLAlchemy cannot parse."""
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise ValueError("not a SQLAlchemy URL") from e
    backend = parsed.get_backend_name()
    family = _FAMILIES.get(backend, backend)
    if family == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            return Endpoint("sqlite", frozenset(), None, f"memory:{id(parsed)}")  # private to one connection
        return Endpoint("sqlite", frozenset(), None, os.path.realpath(database.removeprefix("file:").split("?")[0]))
    host = parsed.host or parsed.query.get("host")
    if isinstance(host, tuple):
        host = host[0]
    port = parsed.port or _DEFAULT_PORTS.get(family)
    database = parsed.database or (parsed.username if family == "postgresql" else "") or ""
    return Endpoint(family, _host_addresses(host, port), port, database.lower() if family == "mysql" else database)


def same_endpoint(a: Endpoint, b: Endpoint) -> bool:
    """True when two endpoints reach the same database."""
    if a.family != b.family:
        return False
    if a.family == "sqlite":
        if a.database == b.database:
            return True
        try:
            return os.path.samefile(a.database, b.database)  # hard links
        except OSError:
            return False
    return a.port == b.port and a.database == b.database and bool(a.hosts & b.hosts)
