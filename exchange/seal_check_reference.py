"""Reference checker for govhub sealed answers — COPY this file into your approval system.

Self-contained on purpose: standard library plus `gmssl` (pip install gmssl; SM2/SM3 in pure
Python) for sm2 seals, or `cryptography` for ed25519 seals. No govhub imports. govhub's test suite
checks that it agrees with govhub's own verifier on good and tampered documents.

Usage::

    from seal_check_reference import check_sealed_answer
    ok, reason, message = check_sealed_answer(
        open("answer.json", "rb").read(),
        public_key_pem=open("hub-sm2.pub").read(),   # the hub's published public key
        request=my_request_dict,                     # optional: the request you sent
    )

`reason` is None when valid, else "malformed", "key_id", "signature" or "request_hash".
`request` may be exactly the JSON body you posted: "item" (from the URL) and "params" ({}) are
filled in before hashing, as the hub does.

How a seal works (format govhub-seal/2; H = SM3 for sm2 seals, SHA-256 for ed25519 seals):
1. Parse the JSON; refuse duplicate keys and NaN/Infinity.
   Canonical JSON = RFC 8785 (JCS): keys sorted by UTF-16 code units, no whitespace, UTF-8,
   only `"`, `\\` and U+0000..U+001F escaped, numbers as ECMAScript prints them.
2. leaf = H(0x00 || canonical JSON of the document without "seal").
3. Walk seal.path from the leaf (RFC 9162 section 2.1.3.2, with node = H(0x01 || left || right))
   using seal.leaf_index and seal.tree_size; the result must equal seal.root.
4. The signature covers canonical JSON of {"format", "algorithm", "key_id", "tree_size", "root"}.
   sm2: SM2 (GB/T 32918.2) over SM3(Z || message) with user id "1234567812345678";
   signature is DER SEQUENCE {r, s}, base64. ed25519: RFC 8032, 64 bytes, base64.
5. key_id = first 16 hex of H of the public key's DER (SubjectPublicKeyInfo: the PEM's base64 body).
6. request_hash = H hex of the canonical JSON of the request (with item and params filled in).
The older format govhub-seal/1 (seal.signed present, no tree) signs the canonical JSON of the
document with only seal.signature removed; it is still accepted.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from decimal import Decimal

SEAL_FORMAT = "govhub-seal/2"
SEAL_FORMAT_V1 = "govhub-seal/1: canonical_json(document without seal.signature)"
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
OID_ED25519 = bytes.fromhex("06032b6570")
OID_SM2_CURVE = bytes.fromhex("06082a811ccf5501822d")
TOP = {"answer", "item", "version", "issued_at", "request_hash", "seal"}
SEAL_V1 = {"algorithm", "key_id", "signed", "signature"}
SEAL_V2 = {"format", "algorithm", "key_id", "tree_size", "leaf_index", "path", "root", "signature"}
HEX64 = re.compile(r"[0-9a-f]{64}")


def check_sealed_answer(document_json, public_key_pem, request=None):
    """Return (ok, reason, message) for a sealed answer given as JSON text or bytes."""
    try:
        if isinstance(document_json, bytes):
            document_json = document_json.decode("utf-8-sig")
        doc = json.loads(document_json, object_pairs_hook=_unique, parse_constant=_no_constant)
        if not isinstance(doc, dict) or set(doc) != TOP or not isinstance(doc["seal"], dict):
            raise ValueError("fields are not exactly " + ", ".join(sorted(TOP)))
        seal = doc["seal"]
        v2 = "format" in seal
        if v2 and (set(seal) != SEAL_V2 or seal["format"] != SEAL_FORMAT):
            raise ValueError("seal fields or format are not govhub-seal/2")
        if not v2 and (set(seal) != SEAL_V1 or seal["signed"] != SEAL_FORMAT_V1):
            raise ValueError("seal fields or format are not govhub-seal/1")
        if v2 and not _tree_fields_ok(seal):
            raise ValueError("seal tree_size, leaf_index, path or root has the wrong type")
        if not (isinstance(doc["answer"], dict) and isinstance(doc["item"], str) and doc["item"]):
            raise ValueError("answer or item has the wrong type")
        if type(doc["version"]) is not int or doc["version"] < 0:
            raise ValueError("version is not a non-negative integer")
        if not isinstance(doc["issued_at"], str) or not re.fullmatch(
            r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z", doc["issued_at"]
        ):
            raise ValueError("issued_at is not UTC ISO-8601")
        if not isinstance(doc["request_hash"], str) or not HEX64.fullmatch(doc["request_hash"]):
            raise ValueError("request_hash is not 64 hex")
        if seal["algorithm"] not in ("sm2", "ed25519") or not isinstance(seal["signature"], str):
            raise ValueError("unknown algorithm or signature type")
        if not isinstance(seal["key_id"], str) or not re.fullmatch(r"[0-9a-f]{16}", seal["key_id"]):
            raise ValueError("seal.key_id is not 16 hex")
        signature = base64.b64decode(seal["signature"], validate=True)
        if base64.b64encode(signature).decode() != seal["signature"]:
            raise ValueError("signature is not canonical base64")
        if v2:
            leaf = canonical({k: v for k, v in doc.items() if k != "seal"})
            signed = canonical({k: seal[k] for k in ("format", "algorithm", "key_id", "tree_size", "root")})
        else:
            signed = canonical({**doc, "seal": {k: v for k, v in seal.items() if k != "signature"}})
    except (ValueError, TypeError, OverflowError) as e:  # json, base64, unicode errors are ValueErrors
        return False, "malformed", f"not a valid govhub sealed answer: {e}"

    algorithm, spki, public = _read_public_key(public_key_pem)
    key_id = _digest(spki, algorithm)[:16]
    if seal["algorithm"] != algorithm or seal["key_id"] != key_id:
        return False, "key_id", f"sealed with {seal['algorithm']} key {seal['key_id']}, not by key {key_id}"
    if v2:
        leaf_hash = _hash(b"\x00" + leaf, algorithm)
        path = [bytes.fromhex(p) for p in seal["path"]]
        if _root_from_path(leaf_hash, seal["leaf_index"], seal["tree_size"], path, algorithm) != seal["root"]:
            return False, "signature", "the signature does not match the content (the answer is not in the signed tree)"
    valid = _sm2_verify(public, signature, signed) if algorithm == "sm2" else _ed25519_verify(public, signature, signed)
    if not valid:
        return False, "signature", "the signature does not match the content"
    if request is not None:
        if not isinstance(request, dict):
            return False, "request_hash", "the request given is not a JSON object"
        bound = {"item": doc["item"], **request}
        if bound.get("params") is None:
            bound["params"] = {}
        if _digest(canonical(bound), algorithm) != doc["request_hash"]:
            return False, "request_hash", "the answer was sealed for a different request"
    return True, None, f"valid seal by {algorithm} key {key_id}"


def canonical(value):
    """RFC 8785 canonical JSON bytes of a parsed JSON value (Decimal is rendered as govhub does)."""
    return _canon(value).encode("utf-8")


def _canon(v):
    if v is None or isinstance(v, bool):
        return {None: "null", True: "true", False: "false"}[v]
    if isinstance(v, str):
        return json.encoder.encode_basestring(v)
    if isinstance(v, int):  # beyond 2**53 JCS sees the number as a double, like every JSON reader
        return str(v) if abs(v) <= 2**53 - 1 else _es_number(float(v))
    if isinstance(v, float):
        return _es_number(v)
    if isinstance(v, Decimal):
        return json.encoder.encode_basestring(format(v, "f"))
    if isinstance(v, list | tuple):
        return "[" + ",".join(_canon(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
        return "{" + ",".join(json.encoder.encode_basestring(k) + ":" + _canon(v[k]) for k in keys) + "}"
    raise TypeError(f"{type(v).__name__} is not JSON")


def _es_number(x):
    """ECMAScript Number.prototype.toString for a finite float."""
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("NaN/Infinity")
    if x == 0:
        return "0"
    _, digits, exp = Decimal(repr(abs(x))).normalize().as_tuple()
    d, n = "".join(map(str, digits)), len(digits) + exp
    k, sign = len(d), "-" if x < 0 else ""
    if k <= n <= 21:
        return sign + d + "0" * (n - k)
    if 0 < n <= 21:
        return sign + d[:n] + "." + d[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + d
    e = n - 1
    return sign + (d if k == 1 else d[0] + "." + d[1:]) + "e" + ("+" if e >= 0 else "-") + str(abs(e))


def _unique(pairs):
    if len({k for k, _ in pairs}) != len(pairs):
        raise ValueError("duplicate key")
    return dict(pairs)


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def _digest(data, algorithm):
    if algorithm == "ed25519":
        return hashlib.sha256(data).hexdigest()
    from gmssl import func, sm3

    return sm3.sm3_hash(func.bytes_to_list(data))


def _hash(data, algorithm):
    return bytes.fromhex(_digest(data, algorithm))


def _tree_fields_ok(seal):
    size, index, path = seal["tree_size"], seal["leaf_index"], seal["path"]
    return (
        type(size) is int
        and 1 <= size <= 2**32
        and type(index) is int
        and 0 <= index < size
        and isinstance(seal["root"], str)
        and HEX64.fullmatch(seal["root"]) is not None
        and isinstance(path, list)
        and len(path) <= 64
        and all(isinstance(p, str) and HEX64.fullmatch(p) for p in path)
    )


def _root_from_path(leaf, index, size, path, algorithm):
    """RFC 9162 section 2.1.3.2: the root hex that `path` proves for `leaf` at `index`, or None."""
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = _hash(b"\x01" + p + r, algorithm)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = _hash(b"\x01" + r + p, algorithm)
        fn, sn = fn >> 1, sn >> 1
    return r.hex() if sn == 0 else None


def _read_public_key(pem):
    """(algorithm, SubjectPublicKeyInfo DER, raw public key) from a PEM public key."""
    body = "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
    spki = base64.b64decode(body, validate=True)
    if spki[:2] == b"\x30\x2a" and OID_ED25519 in spki[:12] and len(spki) == 44:
        return "ed25519", spki, spki[-32:]
    if OID_SM2_CURVE in spki[:30] and spki[-66:-64] == b"\x00\x04" and spki[-68] == 0x03:
        return "sm2", spki, spki[-64:]  # x || y
    raise ValueError("public key is neither an SM2 nor an Ed25519 SubjectPublicKeyInfo PEM")


def _sm2_verify(point, signature, message):
    rs = _der_rs(signature)
    if rs is None:
        return False
    from gmssl import sm2

    checker = sm2.CryptSM2(private_key=None, public_key=point.hex())
    checker.public_key = point.hex()  # gmssl's constructor mangles keys starting with 0/4 hex digits
    return bool(checker.verify_with_sm3(f"{rs[0]:064x}{rs[1]:064x}", message))  # Z uses id 1234567812345678


def _der_rs(sig):
    """(r, s) from a strict DER SEQUENCE of two INTEGERs in [1, n-1], else None."""
    if len(sig) < 8 or sig[0] != 0x30 or sig[1] != len(sig) - 2:
        return None
    out, pos = [], 2
    for _ in range(2):
        if pos + 2 > len(sig) or sig[pos] != 0x02:
            return None
        n = sig[pos + 1]
        body = sig[pos + 2 : pos + 2 + n]
        if not 0 < n <= 33 or len(body) != n or body[0] & 0x80 or (n > 1 and body[0] == 0 and body[1] < 0x80):
            return None
        out.append(int.from_bytes(body, "big"))
        pos += 2 + n
    if pos != len(sig) or not all(1 <= v < SM2_N for v in out):
        return None
    return tuple(out)


def _ed25519_verify(raw_key, signature, message):
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(signature, message)
    except InvalidSignature:
        return False
    return True
