"""Checkpoint signatures checked against the trusted hub keys: which checkpoints a chain walk may trust."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterable, Mapping

from exchange.crypto import SealError
from exchange.log._hashing import checkpoint_payload
from exchange.log.models import Checkpoint

__all__ = ["check_signatures", "good_by_seq"]

log = logging.getLogger(__name__)


def _default_verifier() -> Callable[..., bool]:
    from exchange.crypto import verify_signature  # lazy: the log works without crypto until a checkpoint

    return verify_signature


def check_signatures(
    checkpoints: list[Checkpoint], trusted: Mapping[str, str], verifier: Callable[..., bool] | None
) -> tuple[list[int], list[str]]:
    """Ids of checkpoints whose signature fails (or whose key is not trusted), plus notes."""
    if not checkpoints:
        return [], []
    verify = verifier if verifier is not None else _default_verifier()
    bad: list[int] = []
    notes: list[str] = []
    if not trusted:
        notes.append("no trusted keys given: checkpoint signatures checked against the keys stored with them")
    for cp in checkpoints:
        pem = trusted.get(cp.key_id) if trusted else cp.public_key_pem
        if pem is None:
            bad.append(cp.id)
            continue
        data = checkpoint_payload(
            seq=cp.seq,
            head_hash=cp.head_hash,
            signed_at=cp.signed_at,
            key_id=cp.key_id,
            algorithm=cp.algorithm,
        )
        try:
            signature = base64.b64decode(cp.signature, validate=True)
            good = bool(verify(public_key_pem=pem, algorithm=cp.algorithm, data=data, signature=signature))
        except (ValueError, TypeError, SealError) as e:
            log.warning("checkpoint %s: signature unreadable: %s", cp.id, e)
            good = False
        if not good:
            bad.append(cp.id)
    return bad, notes


def good_by_seq(checkpoints: Iterable[Checkpoint], bad_ids: Iterable[int]) -> dict[int, list[Checkpoint]]:
    """The checkpoints whose signature held, by the seq they pin: the hashes a walk must find there."""
    bad = set(bad_ids)
    by_seq: dict[int, list[Checkpoint]] = {}
    for cp in checkpoints:
        if cp.id not in bad:
            by_seq.setdefault(cp.seq, []).append(cp)
    return by_seq
