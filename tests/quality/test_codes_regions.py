"""GB/T 2260 region list and the acceptance rule (listed / unverified / unknown)."""

from __future__ import annotations

import csv
from importlib import resources

import pyarrow as pa
import pytest

from quality.codes import REGIONS, check_region_code, check_region_codes, region_name, region_statuses

HUNAN_PREFECTURES = {
    "4301": "长沙市",
    "4302": "株洲市",
    "4303": "湘潭市",
    "4304": "衡阳市",
    "4305": "邵阳市",
    "4306": "岳阳市",
    "4307": "常德市",
    "4308": "张家界市",
    "4309": "益阳市",
    "4310": "郴州市",
    "4311": "永州市",
    "4312": "怀化市",
    "4313": "娄底市",
    "4331": "湘西土家族苗族自治州",
}


def test_data_file_is_well_formed() -> None:
    text = resources.files("quality").joinpath("data", "gb2260_hunan.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert list(rows[0]) == ["code", "name", "level", "status", "note"]
    assert {r["status"] for r in rows} == {"current", "historical", "statistical"}
    assert {r["level"] for r in rows} == {"national", "province", "prefecture", "county"}
    assert len(rows) == len(REGIONS)


def test_every_hunan_prefecture_is_listed_current() -> None:
    for prefix, name in HUNAN_PREFECTURES.items():
        info = REGIONS[prefix + "00"]
        assert (info.name, info.level, info.status) == (name, "prefecture", "current")


def test_hunan_has_122_current_county_level_units() -> None:
    current = [i for i in REGIONS.values() if i.code.startswith("43") and i.level == "county"]
    assert sum(i.status == "current" for i in current) == 122
    for info in current:  # every county sits under a listed prefecture
        assert info.code[:4] + "00" in REGIONS


def test_all_31_provinces_are_listed() -> None:
    mainland = [c for c, i in REGIONS.items() if i.level == "province" and c[:2] not in ("71", "81", "82")]
    assert len(mainland) == 31
    assert region_name("430000") == "湖南省"


@pytest.mark.parametrize(
    ("code", "name", "status"),
    [
        ("430902", "资阳区", "current"),
        ("430903", "赫山区", "current"),
        ("430921", "南县", "current"),
        ("430922", "桃江县", "current"),
        ("430923", "安化县", "current"),
        ("430981", "沅江市", "current"),
        ("430901", "市辖区", "historical"),
        ("430122", "望城县", "historical"),
        ("430112", "望城区", "current"),
        ("430124", "宁乡县", "historical"),
        ("430182", "宁乡市", "current"),
        ("430221", "株洲县", "historical"),
        ("430212", "渌口区", "current"),
        ("430521", "邵东县", "historical"),
        ("430582", "邵东市", "current"),
        ("431281", "洪江市", "current"),
        ("433101", "吉首市", "current"),
        ("430971", "益阳市大通湖管理区", "statistical"),
    ],
)
def test_known_codes(code: str, name: str, status: str) -> None:
    assert region_name(code) == name
    assert REGIONS[code].status == status


def test_region_name_unknown() -> None:
    assert region_name("430999") is None
    assert region_name("43090") is None


def test_unconfirmed_flag() -> None:
    assert REGIONS["430123"].unconfirmed
    assert not REGIONS["430902"].unconfirmed


CASES = [
    # code, status, default, include_statistical=False, unverified="reject"
    pytest.param("430902", "current", True, True, True, id="current-county"),
    pytest.param("430900", "current", True, True, True, id="city-level"),
    pytest.param("430000", "current", True, True, True, id="province-level"),
    pytest.param("430122", "historical", True, True, True, id="historical"),
    pytest.param("430971", "statistical", True, False, True, id="statistical"),
    pytest.param("110105", "unverified", True, True, False, id="other-province"),
    pytest.param("432321", "unverified", True, True, False, id="historical-prefecture-child"),
    pytest.param("430999", None, False, False, False, id="unlisted-under-current-prefecture"),
    pytest.param("439900", None, False, False, False, id="unlisted-hunan-prefecture"),
    pytest.param("990000", None, False, False, False, id="no-such-province"),
    pytest.param("100000", "national", False, False, False, id="national-uscc-only"),
    pytest.param("43090", None, False, False, False, id="five-digits"),
    pytest.param("43090a", None, False, False, False, id="letter"),
]


@pytest.mark.parametrize(("code", "status", "default", "no_stat", "strict"), CASES)
def test_acceptance_rule(code: str, status: str | None, default: bool, no_stat: bool, strict: bool) -> None:
    arr = pa.array([code])
    assert region_statuses(arr).to_pylist() == [status]
    assert check_region_codes(arr).to_pylist() == [default]
    assert check_region_codes(arr, include_statistical=False).to_pylist() == [no_stat]
    assert check_region_codes(arr, unverified="reject").to_pylist() == [strict]
    assert check_region_code(code) is default
    assert check_region_code(code, include_statistical=False) is no_stat
    assert check_region_code(code, unverified="reject") is strict


def test_region_checks_keep_nulls_and_chunks() -> None:
    arr = pa.chunked_array([["430902", None], ["430999"]])
    assert check_region_codes(arr).to_pylist() == [True, None, False]
    assert region_statuses(arr).to_pylist() == ["current", None, None]


def test_public_api_is_exported() -> None:
    import inspect

    import quality.codes as codes

    assert sorted(codes.__all__) == sorted(set(codes.__all__))
    for name in codes.__all__:
        assert hasattr(codes, name), name
    for func in (codes.check_id_numbers, codes.check_usccs, codes.check_region_codes):
        params = list(inspect.signature(func).parameters.values())[1:]
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), func.__name__
