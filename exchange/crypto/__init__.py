"""The hub's signing layer: one key (SM2 with SM3 by default, Ed25519 as alternative), canonical JSON.

Seals (`exchange.seal`) and the exchange log's signed checkpoints both sign with the `Signer` from
`load_or_create_signer`; anyone holding the published public key checks them with `verify_signature`.
"""

from exchange.crypto.canonical import canonical_json
from exchange.crypto.digests import Algorithm, digest_hex, sha256_hex, sm3_hex
from exchange.crypto.errors import SealError
from exchange.crypto.keys import (
    PublicKeyInfo,
    Signer,
    inspect_public_key,
    load_or_create_signer,
    verify_signature,
)

__all__ = [
    "Algorithm",
    "PublicKeyInfo",
    "SealError",
    "Signer",
    "canonical_json",
    "digest_hex",
    "inspect_public_key",
    "load_or_create_signer",
    "sha256_hex",
    "sm3_hex",
    "verify_signature",
]
