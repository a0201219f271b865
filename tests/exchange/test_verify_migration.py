"""Migration 0005 creates the verification tables exactly as the ORM models describe them."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from exchange.verify import VerificationAnswerRecord, VerificationClient
from govhub.db import migrate


def test_migration_creates_the_verification_tables_like_the_models(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    migrate(url)
    inspector = sa.inspect(sa.create_engine(url))
    for model in (VerificationClient, VerificationAnswerRecord):
        table = model.__table__
        columns = {c["name"]: c["nullable"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name: c.nullable for c in table.columns}, table.name
    indexes = {i["name"] for i in inspector.get_indexes("verification_answer")}
    assert indexes == {"ix_verification_answer_client_id", "ix_verification_answer_case_number"}
