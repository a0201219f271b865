"""Vectorised GB 32100 Unified Social Credit Code checks (with the embedded GB 11714 org code).

Rules: 18 characters from the 31-symbol alphabet (upper-case only; clean with
`normalize_codes` first where allowed), a known authority/entity-type pair, a known region
(including 100000 for national bodies), the GB 11714 check of characters 9-17 and the mod-31
check character. Each invalid row gets one reason, the first failing of USCC_REASONS; since
"check_char" comes last, a contract can downgrade exactly that reason to a warning (codes of
early pilot regions such as 91350100M0001TGQXM legally fail it).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from types import MappingProxyType

import numpy as np
import pyarrow as pa

from quality.codes._arrow import (
    INVALID,
    ArrayLike,
    char_matrix,
    from_codes,
    per_chunk,
    valid_from_reasons,
    valid_mask,
)
from quality.codes._scalar import ORG_WEIGHTS, USCC_ALPHABET, USCC_WEIGHTS
from quality.codes.regions import Unverified, region_accepted

__all__ = ["AUTHORITY_TYPES", "RELAXABLE_USCC_REASONS", "USCC_REASONS", "check_usccs", "valid_usccs"]

USCC_REASONS = ("format", "authority_type", "region", "org_code", "check_char")
RELAXABLE_USCC_REASONS = USCC_REASONS[1:]  # every sub-check but `format`, which the others rely on

# Registration authority (登记管理部门码) -> the entity types (机构类别码) it issues.
# GB 32100-2015 表1 defines 1 机构编制, 5 民政, 9 工商 and Y 其他; the other authorities were assigned
# since by the code's administrator (全国组织机构统一社会信用代码数据服务中心). The standard's own text
# is not freely published; these pairs are the ones its published digest lists, e.g. "统一社会信用代码
# 解析登记管理部门和机构类别", https://blog.csdn.net/lh1424573495/article/details/108776492 (also
# https://osuse.cn/post/10002590.html), and match shared/STANDARDS.md. The contract's `entity_type` code
# table (schemas/legal_entity.yaml) holds the Chinese names of the same pairs; a test keeps them equal.
AUTHORITY_TYPES: Mapping[str, str] = MappingProxyType(
    {
        "1": "1239",  # 机构编制: 机关, 事业单位, 中央编办直接管理机构编制的群众团体, 其他
        "2": "19",  # 外交: 外国常驻新闻机构, 其他
        "3": "123459",  # 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, 其他
        "4": "19",  # 文化: 外国在华文化中心, 其他
        "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
        "6": "129",  # 旅游: 外国旅游部门常驻代表机构, 港澳台地区旅游部门常驻内地（大陆）代表机构, 其他
        "7": "129",  # 宗教: 宗教活动场所, 宗教院校, 其他
        "8": "19",  # 工会: 基层工会, 其他
        "9": "123",  # 工商（市场监管）: 企业, 个体工商户, 农民专业合作社
        "A": "19",  # 中央军委改革和编制办公室: 军队事业单位, 其他
        "N": "1239",  # 农业: 组级, 村级, 乡镇级集体经济组织, 其他
        "Y": "1",  # 其他: not divided, always 1
    }
)

_ALPHA = np.full(256, INVALID, dtype=np.uint8)
_ALPHA[np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)] = np.arange(31, dtype=np.uint8)
_ORG = np.full(256, INVALID, dtype=np.uint8)
_ORG[np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)] = np.arange(36, dtype=np.uint8)
_ORG_CHECK = np.frombuffer(b"?123456789X0", dtype=np.uint8)  # indexed by 11 - sum % 11 (1..11)


@functools.cache
def _pair_table(pairs: frozenset[tuple[str, str]]) -> np.ndarray:
    """256x256 boolean table of allowed (authority byte, type byte) pairs."""
    table = np.zeros((256, 256), dtype=bool)
    for authority, entity_type in pairs:
        table[ord(authority), ord(entity_type)] = True
    return table


def check_usccs(
    codes: ArrayLike,
    *,
    authority_types: Mapping[str, str] | None = None,
    include_statistical: bool = True,
    unverified: Unverified = "accept",
    skip: Collection[str] = (),
) -> pa.Array:
    """One reason per invalid USCC, null where valid (or where the input is null).

    Args:
        codes: string codes (Array or ChunkedArray).
        authority_types: authority character -> string of allowed entity-type characters;
            default AUTHORITY_TYPES.
        include_statistical, unverified: region acceptance options, as in `check_region_codes`.
        skip: sub-checks not applied (any of RELAXABLE_USCC_REASONS), e.g. a contract that accepts
            pilot-region codes failing `check_char`.

    Returns:
        string Array of "format", "authority_type", "region", "org_code" or "check_char".
    """
    _check_skip(skip)
    mapping = AUTHORITY_TYPES if authority_types is None else authority_types
    pairs = _pair_table(frozenset((a, t) for a, types in mapping.items() for t in types))

    def _one(arr: pa.Array) -> pa.Array:
        mat, mask = char_matrix(arr, 18)
        raw = np.ascontiguousarray(mat.T)  # (18, m): one contiguous row per position
        values = np.take(_ALPHA, raw)
        format_ok = values.max(axis=0, initial=0) != INVALID
        pair_ok = pairs[raw[0], raw[1]]

        digits = raw[2:8] - np.uint8(ord("0"))
        region = digits[0].astype(np.int32)
        for j in range(1, 6):
            region = region * 10 + digits[j]
        region = np.where(digits.max(axis=0, initial=0) < 10, region, -1)
        region_ok = region_accepted(
            region, include_statistical=include_statistical, unverified=unverified, allow_national=True
        )

        org_total = np.zeros(raw.shape[1], dtype=np.int32)
        for j, w in enumerate(ORG_WEIGHTS):
            org_total += np.take(_ORG, raw[8 + j]).astype(np.int32) * w
        org_ok = _ORG_CHECK[11 - org_total % 11] == raw[16]

        total = np.zeros(raw.shape[1], dtype=np.int32)
        for j, w in enumerate(USCC_WEIGHTS):
            total += values[j].astype(np.int32) * w
        check_ok = (31 - total % 31) % 31 == values[17]

        code = np.zeros(raw.shape[1], dtype=np.int8)
        for reason, ok in (
            ("check_char", check_ok),
            ("org_code", org_ok),
            ("region", region_ok),
            ("authority_type", pair_ok),
            ("format", format_ok),
        ):
            if reason not in skip:
                code[~ok] = USCC_REASONS.index(reason) + 1
        full = np.ones(len(arr), dtype=np.int8)  # wrong length -> format
        full[mask] = code
        return from_codes(full, (None, *USCC_REASONS), nulls=~valid_mask(arr))

    return per_chunk(_one, codes)


def valid_usccs(
    codes: ArrayLike,
    *,
    authority_types: Mapping[str, str] | None = None,
    include_statistical: bool = True,
    unverified: Unverified = "accept",
    skip: Collection[str] = (),
) -> pa.BooleanArray:
    """True where a USCC passes every check of `check_usccs` (but those in `skip`); null where the input is null."""
    reasons = check_usccs(
        codes,
        authority_types=authority_types,
        include_statistical=include_statistical,
        unverified=unverified,
        skip=skip,
    )
    return valid_from_reasons(reasons, codes)


def _check_skip(skip: Collection[str]) -> None:
    unknown = sorted(set(skip) - set(RELAXABLE_USCC_REASONS))
    if unknown:
        raise ValueError(f"GB 32100 sub-checks {unknown} cannot be skipped; choose from {list(RELAXABLE_USCC_REASONS)}")
