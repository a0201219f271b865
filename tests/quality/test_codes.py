"""Citizen ID (GB 11643) and scalar check-character helpers: worked examples and edge cases."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from quality.codes import (
    check_id_number,
    check_id_numbers,
    id_birth_dates,
    id_check_char,
    id_genders,
    make_id_number,
    normalize_codes,
    org_code_check_char,
    valid_id_numbers,
)

TODAY = dt.date(2024, 6, 1)
YIYANG = make_id_number("430902", dt.date(1990, 5, 17), 123)


# --- scalar helpers: STANDARDS.md worked examples ------------------------------------------


@pytest.mark.parametrize(
    ("first17", "expected"),
    [
        pytest.param("11010519491231002", "X", id="beijing-X"),
        pytest.param("44052418800101001", "4", id="1880"),
    ],
)
def test_id_check_char_examples(first17: str, expected: str) -> None:
    assert id_check_char(first17) == expected


def test_org_code_check_char_example() -> None:
    assert org_code_check_char("60003734") == "1"


def test_make_id_number_layout() -> None:
    value = make_id_number("430902", dt.date(1990, 5, 17), 7)
    assert value[:17] == "43090219900517007"
    assert value[17] == id_check_char(value[:17])
    assert check_id_number(value, today=TODAY) is None


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda: id_check_char("1234"), "exactly 17 ASCII digits", id="short"),
        pytest.param(lambda: id_check_char("１" * 17), "exactly 17 ASCII digits", id="fullwidth"),
        pytest.param(lambda: make_id_number("4309", dt.date(1990, 1, 1), 1), "6-digit region", id="region"),
        pytest.param(lambda: make_id_number("430902", dt.date(1990, 1, 1), 1000), "0..999", id="seq"),
        pytest.param(lambda: org_code_check_char("6000373a"), "0-9/A-Z", id="org-lowercase"),
    ],
)
def test_scalar_helpers_reject_bad_arguments(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


# --- vectorised ID checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param("11010519491231002X", None, id="example-X"),
        pytest.param("440524188001010014", None, id="example-1880"),
        pytest.param(YIYANG, None, id="yiyang"),
        pytest.param(YIYANG[:17], "format", id="17-chars"),
        pytest.param(YIYANG + "1", "format", id="19-chars"),
        pytest.param("11010519491231002x", "format", id="lowercase-x"),
        pytest.param(" " + YIYANG[:17], "format", id="leading-space"),
        pytest.param(YIYANG[:5] + "A" + YIYANG[6:], "format", id="letter-inside"),
        pytest.param("X" * 18, "format", id="all-X"),
        pytest.param("４３" + YIYANG[2:], "format", id="fullwidth-digits"),
        pytest.param("", "format", id="empty"),
        pytest.param(make_id_number("430999", dt.date(1990, 1, 1), 1), "region", id="unknown-yiyang-county"),
        pytest.param(make_id_number("000000", dt.date(1990, 1, 1), 1), "region", id="zero-region"),
        pytest.param(make_id_number("100000", dt.date(1990, 1, 1), 1), "region", id="national-not-for-ids"),
        pytest.param(make_id_number("990101", dt.date(1990, 1, 1), 1), "region", id="no-such-province"),
        pytest.param(make_id_number("430122", dt.date(1960, 1, 1), 1), None, id="historical-wangcheng"),
        pytest.param(make_id_number("432321", dt.date(1960, 1, 1), 1), None, id="old-yiyang-prefecture"),
        pytest.param(make_id_number("430971", dt.date(1990, 1, 1), 1), None, id="statistical-datonghu"),
        pytest.param(make_id_number("430902", dt.date(1879, 12, 31), 1), "birth_date", id="before-1880"),
        pytest.param(make_id_number("430902", dt.date(2024, 6, 2), 1), "birth_date", id="tomorrow"),
        pytest.param(make_id_number("430902", dt.date(2024, 6, 1), 1), None, id="born-today"),
        pytest.param("43090219990230001" + "0", "birth_date", id="feb-30"),
        pytest.param("43090219000229001" + "0", "birth_date", id="1900-not-leap"),
        pytest.param(make_id_number("430902", dt.date(2000, 2, 29), 1), None, id="2000-leap"),
        pytest.param("43090219991301001" + "0", "birth_date", id="month-13"),
        pytest.param("43090219990100001" + "0", "birth_date", id="day-00"),
        pytest.param(YIYANG[:17] + ("0" if YIYANG[17] != "0" else "1"), "check_digit", id="check-digit"),
    ],
)
def test_check_id_numbers_reasons(value: str, reason: str | None) -> None:
    result = check_id_numbers(pa.array([value]), today=TODAY).to_pylist()
    assert result == [reason]
    assert check_id_number(value, today=TODAY) == reason
    assert valid_id_numbers(pa.array([value]), today=TODAY).to_pylist() == [reason is None]


def test_reason_priority_region_before_check_digit() -> None:
    bad_region = make_id_number("430999", dt.date(1990, 1, 1), 1)
    broken = bad_region[:17] + ("1" if bad_region[17] != "1" else "2")
    assert check_id_numbers(pa.array([broken]), today=TODAY).to_pylist() == ["region"]


def test_today_option_moves_the_future() -> None:
    value = make_id_number("430902", dt.date(2030, 1, 1), 1)
    ids = pa.array([value])
    assert check_id_numbers(ids, today=TODAY).to_pylist() == ["birth_date"]
    assert check_id_numbers(ids, today=dt.date(2030, 1, 1)).to_pylist() == [None]


def test_region_options_reach_id_checks() -> None:
    ids = pa.array([make_id_number("430971", dt.date(1990, 1, 1), 1), "440524188001010014"])
    assert check_id_numbers(ids, today=TODAY).to_pylist() == [None, None]
    assert check_id_numbers(ids, today=TODAY, include_statistical=False).to_pylist() == ["region", None]
    assert check_id_numbers(ids, today=TODAY, unverified="reject").to_pylist() == [None, "region"]


def test_nulls_stay_null() -> None:
    ids = pa.array([None, YIYANG, None, "bad"])
    assert check_id_numbers(ids, today=TODAY).to_pylist() == [None, None, None, "format"]
    assert valid_id_numbers(ids, today=TODAY).to_pylist() == [None, True, None, False]
    assert id_birth_dates(ids).to_pylist() == [None, dt.date(1990, 5, 17), None, None]
    assert id_genders(ids).to_pylist() == [None, "1", None, None]


def test_null_slot_with_payload_is_still_null() -> None:
    """Arrow lets a null slot keep 18 bytes of data: it must not be validated."""
    dense = pa.array(["11010519491231002X", "11010519491231002X"])
    masked = pa.Array.from_buffers(pa.string(), 2, [pa.py_buffer(b"\x01"), *dense.buffers()[1:]])
    assert masked.to_pylist() == ["11010519491231002X", None]
    assert check_id_numbers(masked, today=TODAY).to_pylist() == [None, None]
    assert valid_id_numbers(masked, today=TODAY).to_pylist() == [True, None]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda v: pa.chunked_array([v[:2], v[2:]]), id="chunked"),
        pytest.param(lambda v: pa.chunked_array([v], type=pa.string()), id="one-chunk"),
        pytest.param(lambda v: pa.array(["pad", *v]).slice(1), id="sliced"),
        pytest.param(lambda v: pa.array(v, type=pa.large_string()), id="large-string"),
        pytest.param(lambda v: pa.array(v, type=pa.string_view()), id="string-view"),
        pytest.param(lambda v: pa.array(v).dictionary_encode(), id="dictionary"),
        pytest.param(lambda v: v, id="python-list"),
    ],
)
def test_input_shapes(make) -> None:
    values = [YIYANG, "11010519491231002x", None, "43090219990230001" + "0"]
    expected = [None, "format", None, "birth_date"]
    result = check_id_numbers(make(values), today=TODAY)
    assert isinstance(result, pa.Array)
    assert result.to_pylist() == expected
    assert valid_id_numbers(make(values), today=TODAY).to_pylist() == [True, False, None, False]


def test_empty_inputs() -> None:
    assert check_id_numbers(pa.array([], type=pa.string())).to_pylist() == []
    assert check_id_numbers(pa.chunked_array([], type=pa.string())).to_pylist() == []
    assert id_birth_dates(pa.array([], type=pa.string())).type == pa.date32()


def test_normalize_codes_cleans_case_space_and_width() -> None:
    raw = pa.array([" 11010519491231002x\t", "１１０１０５１９４９１２３１００２Ｘ", None])
    cleaned = normalize_codes(raw)
    assert cleaned.to_pylist() == ["11010519491231002X", "11010519491231002X", None]
    assert check_id_numbers(cleaned, today=TODAY).to_pylist() == [None, None, None]


def test_birth_dates_and_genders() -> None:
    ids = pa.array(
        [
            "11010519491231002X",
            "440524188001010014",
            "43090219990230001" + "0",  # real format, impossible date
            make_id_number("430902", dt.date(2099, 1, 1), 2),  # future but real
            "4309021990051712",
        ]
    )
    assert id_birth_dates(ids).type == pa.date32()
    assert id_birth_dates(ids).to_pylist() == [
        dt.date(1949, 12, 31),
        dt.date(1880, 1, 1),
        None,
        dt.date(2099, 1, 1),
        None,
    ]
    assert id_genders(ids).to_pylist() == ["2", "1", "1", "2", None]
