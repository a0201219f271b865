"""Fixtures for the lake tests: contracts, a local lake per test and a row factory from the contract."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Sequence

import pyarrow as pa
import pytest

from lake import Lake
from schemas import Contract, arrow_schema, load_contract


def _value(field: pa.Field, key: str, tag: str, i: int) -> object:
    t = field.type
    if pa.types.is_string(t):
        return f"{field.name}-{tag}"
    if pa.types.is_int64(t):
        return i
    if pa.types.is_floating(t):
        return float(i)
    if pa.types.is_decimal(t):
        return decimal.Decimal(i)
    if pa.types.is_boolean(t):
        return i % 2 == 0
    if pa.types.is_date(t):
        return dt.date(2000, 1, 1) + dt.timedelta(days=i)
    if pa.types.is_timestamp(t):
        return dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=i)
    raise AssertionError(f"no generator for {t}")


RowFactory = Callable[..., pa.Table]


def make_rows(
    contract: Contract, keys: Sequence[str], *, tag: str = "v1", deleted: Sequence[bool] | None = None
) -> pa.Table:
    """Rows of `contract` with the given primary keys; non-key values depend on `tag`."""
    schema = arrow_schema(contract)
    pk = contract.primary_key[0]
    columns = {
        f.name: pa.array([k if f.name == pk else _value(f, k, tag, i) for i, k in enumerate(keys)], f.type)
        for f in schema
    }
    table = pa.table(columns, schema=schema)
    if deleted is not None:
        table = table.append_column("_deleted", pa.array(deleted, pa.bool_()))
    return table


@pytest.fixture(scope="session")
def person() -> Contract:
    return load_contract("person")


@pytest.fixture(scope="session")
def legal_entity() -> Contract:
    """The tombstone-deletes contract."""
    return load_contract("legal_entity")


@pytest.fixture(scope="function")
def lake(tmp_path) -> Lake:
    return Lake(str(tmp_path / "lake"))


@pytest.fixture(scope="session")
def rows() -> RowFactory:
    return make_rows


S3_KEY, S3_SECRET = "govhub-test", "govhub-test-secret"


@pytest.fixture(scope="session")
def moto_endpoint():
    """An S3-protocol server (moto) for the session; skips when it cannot start."""
    from lake_moto import start

    try:
        proc, port = start()
    except (RuntimeError, OSError, ImportError) as e:
        pytest.skip(f"moto's S3 server could not start: {e}")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.join(5)


@pytest.fixture(scope="function")
def s3_lake(moto_endpoint, request) -> Lake:
    """A lake in a fresh bucket on the moto server."""
    from minio import Minio

    bucket = "lake-" + request.node.name.lower().replace("_", "-")[:40].strip("-")
    client = Minio(moto_endpoint.split("://", 1)[1], access_key=S3_KEY, secret_key=S3_SECRET, secure=False)
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    return Lake(
        f"s3://{bucket}/hub",
        storage_options={
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_ACCESS_KEY_ID": S3_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET,
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        },
    )
