"""The verification service: authenticate, authorise, validate, look up, seal, log — one call per request.

The web route (web/routes/verify.py), the CLI and the demo all go through `VerificationService.ask`,
so every query — answered, refused or malformed — passes the same checks and becomes an exchange-log
event (client, item, case number, purpose, keyed subject hash (`exchange.subjects`), client address,
outcome). A refusal (401/403/429) is a `denial`; the caller's own mistake (422) is outcome `invalid`, not a
denial; a key that did not check out is kept as its id prefix and fingerprint (`exchange.log.presented_key`).
Answers are sealed (`exchange.seal`) and name the serving-store version they were read from.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from core.ids import new_id
from core.time import beijing_today
from exchange.crypto import Signer
from exchange.log.refusals import presented_key
from exchange.seal import VerifyResult, canonical_request, prepare_answer, verify_sealed
from exchange.subjects import SubjectKeys
from exchange.subjects import subject_hash as keyed_subject_hash
from exchange.verify.clients import ClientInfo, ClientRegistry, RateLimiter, VerificationAnswerRecord
from exchange.verify.corrections import CorrectionMarks, FlagLookup, mark_answer, record_keys
from exchange.verify.errors import VerificationError
from exchange.verify.items import VerificationItem, load_items
from exchange.verify.logwriter import LogWriter
from exchange.verify.rules import RULES
from exchange.verify.store import ServingStore, StoreUnavailable
from exchange.verify.validate import check_text, validate_params, validate_subject
from schemas import load_contract

__all__ = ["MAX_BATCH", "MAX_BODY_BYTES", "VerificationService", "build_request", "subject_hash"]

log = logging.getLogger(__name__)

MAX_BATCH = 100
MAX_BODY_BYTES = 256 * 1024
_DENIALS = frozenset({401, 403, 429})
_CALLER_MISTAKES = frozenset({422})


def subject_hash(subject: Any, item: VerificationItem | None, *, keys: SubjectKeys) -> str | None:
    """The keyed hash of a subject's identifying values (the item's `key` fields) that the log keeps.

    `exchange.subjects`: HMAC-SM3 under the hub's subject key, with its key id; None when the item is
    unknown or the subject lacks a key field (nothing identifies it).
    """
    if item is None or not isinstance(subject, Mapping):
        return None
    values = [subject.get(name) for name in item.key]
    if not all(isinstance(v, str) and v for v in values):
        return None
    return keyed_subject_hash([str(v) for v in values], keys=keys)


def build_request(item: str, body: Mapping[str, Any], *, batch: bool = False) -> dict[str, Any]:
    """The request a seal's request_hash covers: `canonical_request` of the body members as sent.

    ``{"item", "case_number", "purpose", "subject" (or "subjects" for a batch), "params"}``: the item from
    the URL, `params` defaulting to {}. An approval system that saved the body it posted checks the
    binding with that body alone; `verify_sealed` and the reference checker complete it the same way.
    """
    key = "subjects" if batch else "subject"
    members = {name: body[name] for name in ("case_number", "purpose", key, "params") if name in body}
    return canonical_request(members, item=item)


class VerificationService:
    """Answers verification questions from the serving store with sealed, logged answers.

    `store` serves the data, `signer` seals, `engine` holds clients, the exchange log and issued answers.
    `today` gives the issuing date in Beijing time (rules default their date parameters to it).
    `corrections` tells which records are under correction (校核纠错; `exchange.verify.corrections`):
    their answers carry `under_correction` and the flag ids inside the seal.
    `link_secret` keys the unguessable links to the printable pages (`answer_page_token`); without
    one a random secret is drawn, so links then hold only for this process.
    """

    def __init__(
        self,
        *,
        store: ServingStore,
        signer: Signer,
        engine: Engine,
        items: Mapping[str, VerificationItem] | None = None,
        clients: ClientRegistry | None = None,
        limiter: RateLimiter | None = None,
        writer: LogWriter | None = None,
        today: Callable[[], date] | None = None,
        link_secret: bytes | None = None,
        subject_keys: SubjectKeys | None = None,
        corrections: FlagLookup | None = None,
    ) -> None:
        self.store = store
        self.subject_keys = subject_keys or SubjectKeys.load(Path(store.home) / "keys")
        self.signer = signer
        self.engine = engine
        self.items = dict(items if items is not None else load_items())
        self.clients = clients or ClientRegistry(engine)
        self.limiter = limiter or RateLimiter()
        self.writer = writer or LogWriter(engine, signer=signer)
        self._today = today or beijing_today
        self._link_secret = link_secret or secrets.token_bytes(32)
        self.corrections = corrections or CorrectionMarks(engine)

    # -- catalogue and keys ------------------------------------------------------------------------

    def catalogue(self) -> list[dict[str, Any]]:
        """The public catalogue of items."""
        return [item.public() for item in self.items.values()]

    def public_key(self) -> dict[str, str]:
        """The hub's seal key: PEM, key id and algorithm (publish it; check answers offline with it)."""
        return {
            "algorithm": self.signer.algorithm,
            "key_id": self.signer.key_id,
            "public_key_pem": self.signer.public_key_pem(),
        }

    def check(
        self, document: str | bytes | Mapping[str, Any], *, request: Mapping[str, Any] | None = None
    ) -> VerifyResult:
        """Check a sealed answer against the hub's own public key (the public check page)."""
        return verify_sealed(document, public_key_pem=self.signer.public_key_pem(), request=request)

    def answer_document(self, answer_id: str) -> dict[str, Any] | None:
        """A sealed answer issued earlier, by its id, or None (no access check: callers decide who may see it)."""
        record = self._answer_record(answer_id)
        return None if record is None else json.loads(record.document)

    def answer_for_client(
        self, answer_id: str, *, client_key: str | None, address: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """(status, document) of an answer for the client that asked it: 401 without a valid key, and 404
        for an unknown id or another client's answer (so ids cannot be probed); refusals are logged, with
        the client's `address` and, for a key that did not check out, its id prefix and fingerprint."""
        started = time.perf_counter()
        client = self.clients.authenticate(client_key) if client_key else None
        record = self._answer_record(answer_id) if client is not None else None
        if client is not None and record is not None and record.client_id == client.id:
            return 200, json.loads(record.document)
        if client is None:
            code = "missing_key" if not client_key else "invalid_key"
            error = VerificationError(401, code, "send the asking client's key in the X-Client-Key header")
        else:
            code = "answer_not_found" if record is None else "answer_of_another_client"
            error = VerificationError(404, "answer_not_found", "no answer with this id was issued to this client")
        state = {
            "client": client,
            "item": None,
            "body": None,
            "version": None,
            "answer_id": answer_id[:36],
            "address": address[:64] if address else None,
            "presented": presented_key(client_key) if client is None else {},
        }
        status = 403 if code == "answer_of_another_client" else error.status  # the log tells what the 404 hides
        event = self._event(state, "answers", status, code, None, started, {"read": "answer", "answered": error.status})
        try:
            self.writer.write([event])
        except Exception:  # the refusal stands; the failure goes to the application log
            log.exception("a refused answer read could not be written to the exchange log")
        return error.status, error.body()

    def answer_page_token(self, answer_id: str) -> str:
        """The secret part of the printable page's link: HMAC-SHA256(link secret, answer id), 128 bits as hex."""
        mac = hmac.new(self._link_secret, b"govhub-answer-page|" + answer_id.encode("utf-8"), hashlib.sha256)
        return mac.hexdigest()[:32]

    def answer_for_page(self, answer_id: str, token: str) -> dict[str, Any] | None:
        """The answer behind a printable-page link, or None when the id is unknown or the token is not its own."""
        if not hmac.compare_digest(self.answer_page_token(answer_id), token.encode("ascii", "replace").decode()):
            return None
        return self.answer_document(answer_id)

    def _answer_record(self, answer_id: str) -> VerificationAnswerRecord | None:
        if len(answer_id) > 36:
            return None
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(VerificationAnswerRecord, answer_id)

    # -- asking ------------------------------------------------------------------------------------

    def ask(
        self,
        item_code: str,
        *,
        client_key: str | None,
        body: bytes | str | Mapping[str, Any],
        batch: bool = False,
        sealed: bool = True,
        on_unauthenticated: Callable[[str], bool] | None = None,
        address: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Answer one request: (HTTP status, JSON document). Never raises for a caller's mistake.

        200 with the sealed answer; 401/403/429 refusals and 404/422/503 errors as typed JSON
        (`VerificationError.body`). Every outcome is written to the exchange log before returning;
        when the log cannot be written, the answer is withheld (503 log_unavailable).
        `sealed=False` returns the same answer without a seal (benchmark baseline only).
        `on_unauthenticated(code)`: a request without a valid key is handed to it instead of the log (the
        web app aggregates those per client address, `exchange.log.refusals`); False answers 429.
        `address`: the client's network address, kept on every event.
        """
        status, document, events, answers = self._outcome(item_code, client_key, body, batch, sealed, address)
        if status == 401 and on_unauthenticated is not None:
            code = str(events[0].get("error_code") or "unauthenticated") if events else "unauthenticated"
            if on_unauthenticated(code):
                return status, document
            limited = VerificationError(429, "rate_limited", "too many requests without a valid key; wait a minute")
            return limited.status, limited.body()
        try:
            self.writer.write(events, answers, signer=self.signer)
        except Exception:
            return self._log_unavailable(item_code)
        return status, document

    def _outcome(
        self, item_code: str, client_key: str | None, body: Any, batch: bool, sealed: bool, address: str | None = None
    ) -> tuple[int, dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        """(status, document, events to log, answers to seal and keep) of one request."""
        started = time.perf_counter()
        state: dict[str, Any] = {
            "client": None,
            "item": None,
            "body": None,
            "hashes": [None],
            "version": None,
            "address": address[:64] if address else None,
        }
        try:
            status, document, outcomes, answers = self._answer(item_code, client_key, body, batch, sealed, state)
        except VerificationError as e:
            events = [self._event(state, item_code, e.status, e.code, h, started) for h in state["hashes"]]
            return e.status, e.body(), events, []
        events = [self._event(state, item_code, status, None, h, started, extra) for h, extra in outcomes]
        return status, document, events, answers

    @staticmethod
    def _log_unavailable(item_code: str) -> tuple[int, dict[str, Any]]:
        log.exception("verification of %s not answered: the exchange log could not be written", item_code)
        error = VerificationError(503, "log_unavailable", "the exchange log is unavailable; try again later")
        return error.status, error.body()

    def _answer(
        self, item_code: str, client_key: str | None, body: Any, batch: bool, sealed: bool, state: dict[str, Any]
    ) -> tuple[int, dict[str, Any], list[tuple[str | None, dict[str, Any]]], list[dict[str, Any]]]:
        parsed, parse_error = _parse_body(body)
        state["body"] = parsed
        key = "subjects" if batch else "subject"
        raw_subjects = parsed.get(key) if parsed is not None else None
        if not client_key:
            raise VerificationError(401, "missing_key", "send the client key in the X-Client-Key header")
        client = self.clients.authenticate(client_key)
        if client is None:
            state["presented"] = presented_key(client_key)
            raise VerificationError(401, "invalid_key", "the client key is not valid (unknown, revoked or inactive)")
        state["client"] = client
        item = self.items.get(item_code)
        if item is None:
            raise VerificationError(
                404, "unknown_item", f"no verification item '{item_code[:64]}'; see GET /api/verify/items"
            )
        state["item"] = item
        keys = self.subject_keys
        if batch and isinstance(raw_subjects, list) and len(raw_subjects) <= MAX_BATCH:
            state["hashes"] = [subject_hash(s, item, keys=keys) for s in raw_subjects] or [None]
        elif not batch and raw_subjects is not None:
            state["hashes"] = [subject_hash(raw_subjects, item, keys=keys)]
        if item.code not in client.allowed_items:
            raise VerificationError(
                403, "item_not_granted", f"item '{item.code}' is not granted to client '{client.id}'"
            )
        cost = len(raw_subjects) if batch and isinstance(raw_subjects, list) and raw_subjects else 1
        if not self.limiter.allow(client.id, client.rate_limit_per_minute, cost=min(cost, MAX_BATCH)):
            raise VerificationError(
                429,
                "rate_limited",
                f"more than {client.rate_limit_per_minute} subjects per minute for client '{client.id}'",
            )
        if parse_error is not None:
            raise parse_error
        assert parsed is not None
        case_number = check_text(parsed.get("case_number"), field="case_number", max_len=80)
        purpose = check_text(parsed.get("purpose"), field="purpose", max_len=255)
        extra_members = sorted(set(parsed) - {"case_number", "purpose", key, "params"})
        if extra_members:
            raise VerificationError(
                422, "invalid_request", f"unexpected member(s) {extra_members}", field=extra_members[0]
            )
        subjects = self._subjects(item, raw_subjects, batch)
        state["hashes"] = [subject_hash(s, item, keys=keys) for s in subjects]
        params = validate_params(item, parsed.get("params"))
        try:
            snap = self.store.snapshot(item.resource)
        except StoreUnavailable as e:
            raise VerificationError(
                503, "store_unavailable", f"resource '{item.resource}' is not being served yet"
            ) from e
        state["version"] = snap.version
        today = self._today()
        rule = RULES[item.rule]
        results = self._marked(item, snap, subjects, [rule(item, snap, s, params, today) for s in subjects])
        if not batch and results[0] is None:
            raise VerificationError(404, "subject_not_found", f"no {item.resource} record for the subject given")
        answer_id = new_id()
        answer: dict[str, Any] = {"answer_id": answer_id, "case_number": case_number}
        if batch:
            answer["results"] = [{"found": False} if r is None else r for r in results]
        else:
            answer.update(results[0])
        request = build_request(item.code, parsed, batch=batch)
        document = prepare_answer(
            request=request, answer=answer, item=item.code, version=snap.version, algorithm=self.signer.algorithm
        )
        answers = []
        if sealed:  # the log writer seals it with the others of its group commit (one signature per tree)
            answers.append(
                {
                    "answer_id": answer_id,
                    "client_id": client.id,
                    "item": item.code,
                    "case_number": case_number,
                    "version": snap.version,
                    "issued_at": document["issued_at"],
                    "document": document,
                }
            )
        state["case_number"], state["purpose"], state["answer_id"] = case_number, purpose, answer_id
        events = [
            (h, {"match": r.get("match") if r else None, "index": i} if batch else {})
            for i, (h, r) in enumerate(zip(state["hashes"], results, strict=True))
        ]
        return 200, document, events, answers

    def _marked(
        self, item: VerificationItem, snap: Any, subjects: list[dict[str, str]], results: list[dict[str, Any] | None]
    ) -> list[dict[str, Any] | None]:
        """Each found subject's result, marked when a record it reads is under correction."""
        active = self.corrections.active(item.resource)
        if not active:
            return results
        pk = load_contract(item.resource).primary_key
        marked: list[dict[str, Any] | None] = []
        for subject, result in zip(subjects, results, strict=True):
            if result is None:
                marked.append(None)
                continue
            flags = [f for key in record_keys(item, snap, subject, pk) for f in active.get(key, ())]
            marked.append(mark_answer(result, flags))
        return marked

    def _subjects(self, item: VerificationItem, raw: Any, batch: bool) -> list[dict[str, str]]:
        if not batch:
            return [validate_subject(item, raw)]
        if not isinstance(raw, list) or not raw:
            raise VerificationError(
                422, "malformed_subject", f"'subjects' must be a list of 1..{MAX_BATCH} subjects", field="subjects"
            )
        if len(raw) > MAX_BATCH:
            raise VerificationError(
                422, "too_large", f"a batch holds at most {MAX_BATCH} subjects, got {len(raw)}", field="subjects"
            )
        return [validate_subject(item, s, where=f"subjects[{i}]") for i, s in enumerate(raw)]

    def _event(
        self,
        state: dict[str, Any],
        item_code: str,
        status: int,
        error_code: str | None,
        subject: str | None,
        started: float,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        client: ClientInfo | None = state["client"]
        item: VerificationItem | None = state["item"]
        body = state["body"] or {}
        case_number = state.get("case_number", body.get("case_number"))
        purpose = state.get("purpose", body.get("purpose"))
        denied = status in _DENIALS
        presented: dict[str, str] = state.get("presented") or {}
        address = state.get("address")
        if client:
            target = f"client:{client.id}"
        elif address or presented:  # whom an auditor can follow up: the address, else the key's fingerprint
            target = f"address:{address}" if address else f"key:{presented['key_fingerprint']}"
        else:
            target = "client:unknown"
        outcome = (
            "ok" if status == 200 else "denied" if denied else "invalid" if status in _CALLER_MISTAKES else "failed"
        )
        where = {"address": address} if address else {}
        return {
            "type": "denial" if denied else "verification",
            "source": "hub",
            "target": target,
            "client": client.id if client else None,
            "resource": item.resource if item else None,
            "version": state["version"],
            "outcome": outcome,
            "error_code": error_code,
            "request_id": state.get("answer_id"),
            "case_number": case_number[:80] if isinstance(case_number, str) else None,
            "purpose": purpose[:255] if isinstance(purpose, str) else None,
            "subject_hash": subject,
            "duration_ms": (time.perf_counter() - started) * 1000,
            "details": {"item": item_code[:64], "status": status, **where, **presented, **(extra or {})},
        }


def _parse_body(body: Any) -> tuple[dict[str, Any] | None, VerificationError | None]:
    """The request body as a dict, or the 422 to raise once the caller is authenticated."""
    if isinstance(body, Mapping):
        return dict(body), None
    if len(body) > MAX_BODY_BYTES:
        return None, VerificationError(422, "too_large", f"the request body exceeds {MAX_BODY_BYTES} bytes")
    try:
        parsed = orjson.loads(body)  # strict: NaN, lone surrogates and over-deep nesting are malformed too
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: arrays or objects nested too deep
        return None, VerificationError(422, "malformed_json", "the request body is not JSON")
    if not isinstance(parsed, dict):
        return None, VerificationError(422, "malformed_json", "the request body must be a JSON object")
    return parsed, None
