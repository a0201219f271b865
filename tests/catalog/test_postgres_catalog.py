"""The catalogue's workflows on a PostgreSQL metadata store (skips without a server).

The subscription workflow (国发〔2016〕51号: apply, decide, revoke, overdue, times), the resource
entries, versions and lineage run again here, unchanged, with conftest's `db_url` pointed at a
PostgreSQL database migrated through the Alembic chain (one per module, emptied per test). The
SQLite runs of the same tests are in their own modules (conftest's store is migrated the same way).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import test_lineage
import test_resources
import test_subscriptions
from conftest import POLICE, USER
from sqlalchemy.orm import Session

from catalog import apply, decide, granted_subscriptions, latest_version, list_versions, record_version
from tests.service_db import MetadataStore, metadata_store, parametrize_stores  # noqa: F401

pytestmark = parametrize_stores(("postgresql",))

# the same test functions, collected again in this module with the PostgreSQL `db_url` below
for _module in (test_subscriptions, test_resources, test_lineage):
    globals().update({name: f for name, f in vars(_module).items() if name.startswith("test_") and callable(f)})


@pytest.fixture
def db_url(metadata_store: MetadataStore, tmp_path: Path) -> str:  # noqa: F811
    """conftest's `session` opens this: an empty PostgreSQL store (the SQLite template elsewhere)."""
    return metadata_store.fresh_url(tmp_path)


def test_store_is_postgresql(session: Session) -> None:
    assert session.get_bind().dialect.name == "postgresql"


def test_apply_grant_publish_round_trip(session: Session) -> None:
    """A department applies, the provider grants, versions are recorded: all read back from PostgreSQL."""
    sub = apply(
        session,
        department_code=USER,
        resource="person",
        purpose="社会保险待遇资格认证",
        legal_basis="《社会保险法》第七十五条",
        fields=["name", "status"],
        delivery_mode="file",
    )
    assert sub.status == "pending"
    decide(session, sub.id, actor_department=POLICE, approve=True)
    session.commit()
    session.expire_all()
    assert [s.id for s in granted_subscriptions(session, "person")] == [sub.id]
    for version in (0, 1):
        record_version(
            session,
            resource="person",
            version=version,
            run_id=f"person-00000{version + 1}-x",
            schema_fingerprint="f",
            rows_inserted=10,
            rows_updated=version,
            rows_deleted=0,
        )
    session.commit()
    assert latest_version(session, "person").version == 1
    assert [v.version for v in list_versions(session, "person")] == [1, 0]
