"""Group commit of verification events and batch seals: every answer is sealed and in the exchange log before
it is returned.

Request threads hand their events and the prepared answers (documents without a seal) to the writer
and wait. Two threads form a pipeline: the sealer takes everything queued and seals all its answers
with ONE signature (a Merkle tree, `exchange.seal.seal_documents`); the committer takes everything
sealed, appends the events with one `ExchangeLog.append_many` and inserts the sealed answers and the
access record's index rows (`exchange.access`) in ONE transaction, then wakes the waiters. The next
group is sealed while the previous one is being committed (the fsync releases the GIL). Under load
many requests share one signature and one commit (the head lock and the fsync are paid once per
batch); when idle a request waits for its own (a tree of one). If sealing or the commit fails, every
waiter gets the error and no answer of it is returned.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from exchange.access.index import query_rows, record_queries
from exchange.crypto import Signer, canonical_json
from exchange.log import ExchangeLog
from exchange.seal import seal_documents
from exchange.verify.clients import VerificationAnswerRecord

__all__ = ["LogWriter"]

log = logging.getLogger(__name__)


@dataclass
class _Ticket:
    events: Sequence[Mapping[str, Any]]
    answers: Sequence[dict[str, Any]]
    signer: Signer | None = None
    sealed: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class LogWriter:
    """Writes events + answers in batches from a daemon thread; `write` blocks until they are committed.

    `signer` signs the exchange log's checkpoints (every `checkpoint_every` events). `max_batch` bounds
    one transaction. `durability="commit"` (default) returns from `write` once the events are committed;
    `"queued"` returns at once and the thread commits within a few milliseconds: several times the
    throughput, but a crash loses the events of answers already sent (at most one batch in flight).
    On a SQLite file, writers of several processes (uvicorn workers) take an `flock` on
    `<database>.log.lock` around each transaction: they queue in the kernel instead of SQLite's
    sleeping busy handler, which otherwise adds tens of milliseconds under contention.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        signer: Any = None,
        checkpoint_every: int = 1000,
        max_batch: int = 2000,
        durability: Literal["commit", "queued"] = "commit",
    ) -> None:
        self._engine = engine
        self.durability = durability
        database = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
        self._lock_path = Path(f"{database}.log.lock") if database and database != ":memory:" else None
        self._signer = signer
        self._checkpoint_every = checkpoint_every
        self._max_batch = max_batch
        self._queue: list[_Ticket] = []  # waiting to be sealed
        self._sealed: list[_Ticket] = []  # sealed, waiting to be committed
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # the sealer waits on it (work queued, committer free)
        self._commit_cond = threading.Condition(self._lock)  # the committer waits on it (a sealed group)
        self._threads: list[threading.Thread] = []
        self._closed = False
        self.batches = 0
        self.events = 0
        self.trees = 0

    def write(
        self,
        events: Sequence[Mapping[str, Any]],
        answers: Sequence[dict[str, Any]] = (),
        *,
        signer: Signer | None = None,
    ) -> None:
        """Queue the events (and answers) and wait until their transaction committed; re-raises its error.

        An answer whose ``document`` is a dict without ``seal`` is sealed by `signer` (with every other
        answer of the same group commit and key) in place, and stored as canonical JSON.
        """
        ticket = self._enqueue(events, answers, signer)
        if self.durability == "queued":
            ticket.sealed.wait()  # the answer must carry its seal; the commit may follow
        else:
            ticket.done.wait()
        if ticket.error is not None:
            raise ticket.error

    def _enqueue(
        self,
        events: Sequence[Mapping[str, Any]],
        answers: Sequence[dict[str, Any]],
        signer: Signer | None,
    ) -> _Ticket:
        if signer is None and any(isinstance(a["document"], dict) for a in answers):
            raise ValueError("answers to seal need the signer that seals them")
        ticket = _Ticket(events, answers, signer)
        with self._cond:
            if self._closed:
                raise RuntimeError("the verification log writer is closed")
            if not self._threads or not all(t.is_alive() for t in self._threads):
                self._threads = [
                    threading.Thread(target=self._seal_loop, name="verify-log-sealer", daemon=True),
                    threading.Thread(target=self._commit_loop, name="verify-log-writer", daemon=True),
                ]
                for thread in self._threads:
                    thread.start()
            self._queue.append(ticket)
            self._cond.notify()
        return ticket

    def close(self) -> None:
        """Stop the writer after the queued tickets are sealed and written."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            self._commit_cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)

    def _take(self, queue: list[_Ticket], *, sealer: bool) -> list[_Ticket] | None:
        """Up to `max_batch` events' worth of tickets from `queue`, waiting for some; None once closed and drained.

        The sealer takes a group only when the committer has taken the previous one, so it runs at most
        one group ahead and a group gathers everything that arrived during one commit (one tree each).
        """
        with self._cond:
            while True:
                if queue and not (sealer and self._sealed):
                    break
                drained = not queue and (sealer or not self._threads[0].is_alive())
                if self._closed and drained:
                    return None
                (self._cond if sealer else self._commit_cond).wait(timeout=None if sealer else 0.5)
            taken, count = [], 0
            while queue and (not taken or count + len(queue[0].events) <= self._max_batch):
                ticket = queue.pop(0)
                taken.append(ticket)
                count += len(ticket.events)
            if not sealer:
                self._cond.notify()  # the sealer may take the next group now
            return taken

    def _seal_loop(self) -> None:
        while (tickets := self._take(self._queue, sealer=True)) is not None:
            try:
                self._seal(tickets)
            except Exception as e:  # every waiter learns that its answers could not be sealed
                log.exception("verification answers could not be sealed")
                self._finish(tickets, e)
                continue
            if self.durability == "queued":
                for t in tickets:
                    t.sealed.set()
            with self._cond:
                self._sealed.extend(tickets)
                self._commit_cond.notify()

    def _commit_loop(self) -> None:
        while (tickets := self._take(self._sealed, sealer=False)) is not None:
            try:
                self._commit(tickets)
            except Exception as e:  # every waiter learns that its events were not written
                log.exception("verification events could not be written to the exchange log")
                self._finish(tickets, e)
                continue
            self._finish(tickets, None)

    @staticmethod
    def _finish(tickets: list[_Ticket], error: BaseException | None) -> None:
        for t in tickets:
            t.error = error
            t.sealed.set()
            t.done.set()

    def _seal(self, tickets: list[_Ticket]) -> None:
        """Seal every prepared answer of these tickets: one tree and one signature per signing key."""
        by_key: dict[str, tuple[Signer, list[dict[str, Any]]]] = {}
        for t in tickets:
            for a in t.answers:
                if isinstance(a["document"], dict) and "seal" not in a["document"] and t.signer is not None:
                    by_key.setdefault(t.signer.key_id, (t.signer, []))[1].append(a["document"])
        for signer, documents in by_key.values():
            seal_documents(signer, documents)
        self.trees += len(by_key)
        for t in tickets:  # the stored form, made here so that the committer only writes
            for a in t.answers:
                if isinstance(a["document"], dict):
                    a["stored"] = canonical_json(a["document"]).decode("utf-8")

    def _commit(self, tickets: list[_Ticket]) -> None:
        events = [e for t in tickets for e in t.events]
        documents = {  # what each answer told, for the access record's index
            a["answer_id"]: a["document"] for t in tickets for a in t.answers if isinstance(a["document"], dict)
        }
        answers = [
            {k: v for k, v in a.items() if k != "stored"} | {"document": a["stored"]} if "stored" in a else a
            for t in tickets
            for a in t.answers
        ]
        if self._lock_path is None:
            self._transaction(events, answers, documents)
            return
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self._transaction(events, answers, documents)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _transaction(
        self, events: list[Mapping[str, Any]], answers: list[dict[str, Any]], documents: Mapping[str, Any]
    ) -> None:
        with Session(self._engine) as session:
            xlog = ExchangeLog(session, signer=self._signer, checkpoint_every=self._checkpoint_every)
            appended = xlog.append_many(events)
            record_queries(session, query_rows(appended, documents))  # the access record, in the same commit
            if answers:
                session.execute(insert(VerificationAnswerRecord.__table__), answers)  # Core: no ORM bulk overhead
            session.commit()
        self.batches += 1
        self.events += len(events)
