"""The access record (谁查了我的数据): who asked about a person or entity, and who received their record.

Indexed by keyed subject hash as exchanges happen (`index`), read for the subject authenticated by the
政务服务 app's identity assertion (`assertion`, `record`). See exchange/README.md, "Access record".
"""

from exchange.access.assertion import (
    SUBJECT_KINDS,
    AssertionRefused,
    SubjectKind,
    VerifiedAssertion,
    load_idp_public_key,
    verify_assertion,
)
from exchange.access.backfill import backfill_changes, backfill_queries
from exchange.access.index import index_changes, query_rows, record_queries, subject_fields
from exchange.access.models import SubjectChange, SubjectChangeMark, SubjectQuery
from exchange.access.record import AccessRecord, DeliveryEntry, QueryEntry, access_record, subject_problem

__all__ = [
    "SUBJECT_KINDS",
    "AccessRecord",
    "AssertionRefused",
    "DeliveryEntry",
    "QueryEntry",
    "SubjectChange",
    "SubjectChangeMark",
    "SubjectKind",
    "SubjectQuery",
    "VerifiedAssertion",
    "access_record",
    "backfill_changes",
    "backfill_queries",
    "index_changes",
    "load_idp_public_key",
    "query_rows",
    "record_queries",
    "subject_fields",
    "subject_problem",
    "verify_assertion",
]
