"""Deliveries to real servers: file mode on an S3 lake (moto, child process), database mode on
PostgreSQL and MariaDB when they answer on localhost (skipped otherwise)."""

from __future__ import annotations

import contextlib
import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from test_delivery import SECRET, commit, person_rows, pid, subscribe, target_rows

from exchange.delivery import BOOKKEEPING_TABLE, deliver_resource
from lake import Lake
from schemas import Contract, load_contract

S3_KEY, S3_SECRET = "govhub-test", "govhub-test-secret"
SERVERS = {
    "postgresql": (
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        "CREATE DATABASE govhub_delivery_test",
        "postgresql+psycopg://postgres@127.0.0.1:5432/govhub_delivery_test",
    ),
    "mariadb": (
        "mysql+pymysql://root@127.0.0.1:3306/",
        "CREATE DATABASE IF NOT EXISTS govhub_delivery_test",
        "mysql+pymysql://root@127.0.0.1:3306/govhub_delivery_test?charset=utf8mb4",
    ),
}


@pytest.fixture(scope="module")
def person() -> Contract:
    return load_contract("person")


@pytest.fixture(scope="function")
def session(tmp_path: Path) -> Iterator[Session]:
    import exchange.log.models  # noqa: F401
    from catalog import Base

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as s:
        yield s
    engine.dispose()


@pytest.fixture(scope="module")
def s3_lake() -> Iterator[Lake]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "lake"))
    from lake_moto import start
    from minio import Minio

    try:
        proc, port = start()
    except (RuntimeError, OSError, ImportError) as e:
        pytest.skip(f"moto's S3 server could not start: {e}")
    endpoint = f"http://127.0.0.1:{port}"
    Minio(f"127.0.0.1:{port}", access_key=S3_KEY, secret_key=S3_SECRET, secure=False).make_bucket("deliveries")
    yield Lake(
        "s3://deliveries/hub",
        storage_options={
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": S3_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        },
    )
    proc.terminate()
    proc.join(5)


def test_file_delivery_on_s3_gives_a_presigned_link(person: Contract, s3_lake: Lake, session: Session) -> None:
    subscribe(session)
    commit(s3_lake, person, person_rows(person, [pid(1), pid(2)]), 1)
    [result] = deliver_resource(session, s3_lake, person, secret=SECRET)
    assert result.status == "done", result.error
    assert "X-Amz-Signature" in result.link
    body = httpx.get(result.link).content
    assert hashlib.sha256(body).hexdigest() == result.checksum and len(body) == result.bytes


def _server(kind: str) -> str:
    admin_url, create, url = SERVERS[kind]
    try:
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        # PostgreSQL has no CREATE DATABASE IF NOT EXISTS: an existing database raises ProgrammingError
        with engine.connect() as conn, contextlib.suppress(sa.exc.ProgrammingError):
            conn.exec_driver_sql(create)
        engine.dispose()
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            for table in ("person", BOOKKEEPING_TABLE):
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        engine.dispose()
    except sa.exc.OperationalError as e:
        pytest.skip(f"{kind} is not reachable on localhost: {str(e.orig).splitlines()[0]}")
    return url


@pytest.mark.services
@pytest.mark.parametrize("kind", sorted(SERVERS))
def test_database_delivery_on_a_server(kind: str, person: Contract, tmp_path: Path, session: Session) -> None:
    url = _server(kind)
    lake = Lake(str(tmp_path / "lake"))
    sub = subscribe(session, mode="database", target_url=url, pii_access=False)
    v0 = commit(lake, person, person_rows(person, [pid(1), pid(2), pid(3)]), 1)
    deliver_resource(session, lake, person, secret=SECRET)
    v1 = commit(lake, person, person_rows(person, [pid(2), pid(3)], tag="v2", deleted=[False, True]), 2)
    [result] = deliver_resource(session, lake, person, secret=SECRET)
    assert result.status == "done", result.error
    rows = target_rows(url)
    assert len(rows) == 2 and all(len(r["id_number"]) == 64 for r in rows)  # pseudonymous keys
    assert sorted(r["name"] for r in rows) == ["张***", "张***"] and {r["phone"] for r in rows} == {None}
    book = target_rows(url, BOOKKEEPING_TABLE)
    assert sorted((b["subscription_id"], b["to_version"]) for b in book) == [(sub.id, v0), (sub.id, v1)]
