"""Unified Social Credit Code (GB 32100) and its embedded org code (GB 11714)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from quality.codes import (
    AUTHORITY_TYPES,
    RELAXABLE_USCC_REASONS,
    USCC_REASONS,
    check_uscc,
    check_usccs,
    make_uscc,
    normalize_codes,
    org_code_check_char,
    uscc_check_char,
    valid_usccs,
)
from schemas import GB32100_SUB_CHECKS, load_contract

YIYANG_FIRM = make_uscc("9", "1", "430902", "MA4L0001")
YIYANG_BUREAU = make_uscc("1", "1", "430900", "00600001")


@pytest.mark.parametrize(
    ("first17", "expected"),
    [pytest.param("91110000600037341", "L", id="example-L"), pytest.param("91350100M000100Y4", "3", id="fj")],
)
def test_uscc_check_char_examples(first17: str, expected: str) -> None:
    assert uscc_check_char(first17) == expected


def test_make_uscc_rebuilds_the_example() -> None:
    assert make_uscc("9", "1", "110000", "60003734") == "91110000600037341L"


def test_make_uscc_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="6-digit region"):
        make_uscc("9", "1", "4309", "60003734")
    with pytest.raises(ValueError, match="0-9/A-Z"):
        make_uscc("9", "1", "430902", "6000373")


def _raw(first16: str) -> str:
    """A USCC with valid org and mod-31 checks around any first 16 characters."""
    first17 = first16 + org_code_check_char(first16[8:])
    return first17 + uscc_check_char(first17)


def _flip(code: str, pos: int) -> str:
    """Replace one character with another symbol of the alphabet."""
    new = "1" if code[pos] != "1" else "2"
    return code[:pos] + new + code[pos + 1 :]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param("91110000600037341L", None, id="example-beijing"),
        pytest.param("91350100M000100Y43", None, id="example-fuzhou"),
        pytest.param(YIYANG_FIRM, None, id="yiyang-firm"),
        pytest.param(YIYANG_BUREAU, None, id="yiyang-bureau-city-level"),
        pytest.param(make_uscc("1", "1", "100000", "00001234"), None, id="national-body-100000"),
        pytest.param(make_uscc("5", "1", "430000", "50001234"), None, id="provincial-430000"),
        pytest.param(make_uscc("N", "2", "430971", "55001234"), None, id="statistical-region"),
        pytest.param("91350100M0001TGQXM", "check_char", id="pilot-region-fails-mod31"),
        pytest.param("91110000600037341l", "format", id="lowercase"),
        pytest.param("91110000600037341", "format", id="17-chars"),
        pytest.param("91110000600037341L ", "format", id="trailing-space"),
        pytest.param("9111000060003734IL", "format", id="letter-I-not-in-alphabet"),
        pytest.param("91110000600037341Z", "format", id="letter-Z-not-in-alphabet"),
        pytest.param("91110000６00037341L", "format", id="fullwidth"),
        pytest.param(make_uscc("9", "4", "430902", "MA4L0001"), "authority_type", id="gongshang-type-4"),
        pytest.param(make_uscc("2", "2", "430902", "MA4L0001"), "authority_type", id="foreign-affairs-type-2"),
        pytest.param(make_uscc("Y", "2", "430902", "MA4L0001"), "authority_type", id="other-authority-type-2"),
        pytest.param(make_uscc("B", "1", "430902", "MA4L0001"), "authority_type", id="authority-B-unassigned"),
        pytest.param(make_uscc("3", "1", "430902", "31430001"), None, id="law-firm-31"),
        pytest.param(make_uscc("3", "5", "430900", "35430001"), None, id="arbitration-commission-35"),
        pytest.param(make_uscc("7", "1", "430923", "71430001"), None, id="religious-venue-71"),
        pytest.param(make_uscc("8", "1", "430903", "81430001"), None, id="trade-union-81"),
        pytest.param(make_uscc("A", "1", "430900", "A1430001"), None, id="military-institution-A1"),
        pytest.param(make_uscc("N", "2", "430922", "N2430001"), None, id="village-collective-N2"),
        pytest.param(make_uscc("6", "2", "430000", "62430001"), None, id="hk-macao-taiwan-tourism-62"),
        pytest.param(make_uscc("2", "1", "110000", "21110001"), None, id="foreign-press-21"),
        pytest.param(make_uscc("4", "1", "110000", "41110001"), None, id="foreign-culture-centre-41"),
        pytest.param(make_uscc("9", "1", "430999", "MA4L0001"), "region", id="unknown-yiyang-county"),
        pytest.param(_raw("91A30902MA4L0001"), "region", id="letter-in-region"),
        pytest.param(make_uscc("9", "1", "990000", "MA4L0001"), "region", id="no-such-province"),
        pytest.param(_flip(YIYANG_FIRM, 16), "org_code", id="org-check"),
        pytest.param(_flip(YIYANG_FIRM, 17), "check_char", id="mod31-check"),
    ],
)
def test_check_usccs_reasons(value: str, reason: str | None) -> None:
    assert check_usccs(pa.array([value])).to_pylist() == [reason]
    assert check_uscc(value) == reason
    assert valid_usccs(pa.array([value])).to_pylist() == [reason is None]


def test_org_code_letters_valued_to_35() -> None:
    # Y (34) inside the org code: the Fuzhou example's check '4' only holds with A=10..Z=35
    assert check_usccs(pa.array(["91350100M000100Y43"])).to_pylist() == [None]


def test_authority_types_option() -> None:
    lawyers = make_uscc("3", "1", "430902", "MD0000001"[:8])
    codes = pa.array([lawyers, YIYANG_FIRM])
    assert check_usccs(codes).to_pylist() == [None, None]
    narrowed = {a: t for a, t in AUTHORITY_TYPES.items() if a != "3"}
    assert check_usccs(codes, authority_types=narrowed).to_pylist() == ["authority_type", None]
    assert check_uscc(lawyers, authority_types=narrowed) == "authority_type"


def test_authority_table_is_the_standards_list() -> None:
    """GB 32100-2015 table 1 and the authorities assigned since (STANDARDS.md): 12 authorities, 36 pairs."""
    pairs = {a + t for a, types in AUTHORITY_TYPES.items() for t in types}
    assert sorted(AUTHORITY_TYPES) == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "N", "Y"]
    assert len(pairs) == 36 and {"31", "35", "39", "62", "71", "72", "81", "A1", "N3", "Y1"} <= pairs
    assert not {"94", "99", "22", "Y9", "A2"} & pairs


def test_the_contract_code_table_names_every_pair() -> None:
    """legal_entity's `entity_type` code table (Chinese names) and the check's table are the same pairs."""
    table = load_contract("legal_entity").code_tables["entity_type"].codes
    assert set(table) == {a + t for a, types in AUTHORITY_TYPES.items() for t in types}


def test_relaxable_sub_checks_are_the_contract_vocabulary() -> None:
    assert RELAXABLE_USCC_REASONS == GB32100_SUB_CHECKS == USCC_REASONS[1:]


@pytest.mark.parametrize(
    ("skip", "expected"),
    [
        pytest.param((), ["authority_type", "check_char", "org_code", "region"], id="none"),
        pytest.param(("authority_type",), [None, "check_char", "org_code", "region"], id="authority_type"),
        pytest.param(("check_char",), ["authority_type", None, "org_code", "region"], id="check_char"),
        pytest.param(("region", "org_code"), ["authority_type", "check_char", "check_char", None], id="region+org"),
        pytest.param(("org_code", "check_char"), ["authority_type", None, None, "region"], id="org+check"),
    ],
)
def test_skipped_sub_checks(skip: tuple[str, ...], expected: list[str | None]) -> None:
    values = [
        make_uscc("9", "4", "430902", "MA4L0001"),  # a pair the table does not have
        "91350100M0001TGQXM",  # pilot region: fails only the mod-31 check
        _flip(YIYANG_FIRM, 16),  # org code check character broken, and with it the mod-31 check
        make_uscc("9", "1", "430999", "MA4L0001"),  # unknown county
    ]
    assert check_usccs(pa.array(values), skip=skip).to_pylist() == expected
    assert [check_uscc(v, skip=skip) for v in values] == expected
    with pytest.raises(ValueError, match=r"\['format'\] cannot be skipped"):
        check_usccs(pa.array(values), skip=("format",))


def test_region_options_reach_uscc_checks() -> None:
    codes = pa.array([make_uscc("9", "1", "430971", "MA4L0001"), make_uscc("9", "1", "440305", "MA4L0001")])
    assert check_usccs(codes).to_pylist() == [None, None]
    assert check_usccs(codes, include_statistical=False).to_pylist() == ["region", None]
    assert check_usccs(codes, unverified="reject").to_pylist() == [None, "region"]


def test_nulls_chunks_and_normalisation() -> None:
    codes = pa.chunked_array([[" 91110000600037341l", None], [], ["91350100M0001TGQXM"]])
    assert check_usccs(codes).to_pylist() == ["format", None, "check_char"]
    assert valid_usccs(codes).to_pylist() == [False, None, False]
    assert check_usccs(normalize_codes(codes)).to_pylist() == [None, None, "check_char"]
