"""Searching the catalogue: Chinese substrings, items, provider, classification, sharing type."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from catalog import search_resources


def _names(resources) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.resource for r in resources]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        pytest.param("身份", ["person", "credit_record"], id="item-label-substring-zh"),
        pytest.param("人口", ["person"], id="name-zh"),
        pytest.param("payments", ["payment"], id="name-en-case-insensitive"),
        pytest.param("uscc", ["legal_entity", "credit_record"], id="item-name"),
        pytest.param("Citizen ID", ["person", "credit_record"], id="item-label-en"),
        pytest.param("市财政局", ["payment"], id="provider-name"),
        pytest.param("法人单位基本信息", ["legal_entity"], id="classification-label"),
        pytest.param("312001", ["payment"], id="classification-code"),
        pytest.param("100%_", [], id="wildcards-are-literal"),
        pytest.param("没有这个词", [], id="no-match"),
    ],
)
def test_q_matches_names_items_provider_and_classification(session: Session, q: str, expected: list[str]) -> None:
    assert sorted(_names(search_resources(session, q=q))) == sorted(expected)


def test_no_filter_lists_everything_by_code(session: Session) -> None:
    assert [r.code for r in search_resources(session)] == ["101001001", "102001001", "104001001", "312001001"]


@pytest.mark.parametrize("provider", ["11430900006012344E", "公安"])
def test_provider_by_code_or_name(session: Session, provider: str) -> None:
    assert _names(search_resources(session, provider=provider)) == ["person"]


@pytest.mark.parametrize(
    ("classification", "expected"),
    [
        ("1", ["person", "legal_entity", "credit_record"]),
        ("3", ["payment"]),
        ("基础", ["person", "legal_entity", "credit_record"]),
        ("法人单位", ["legal_entity"]),
        ("102001", ["legal_entity"]),
    ],
)
def test_classification_by_code_prefix_or_label(session: Session, classification: str, expected: list[str]) -> None:
    assert _names(search_resources(session, classification=classification)) == expected


@pytest.mark.parametrize("sharing_type", ["有条件共享", "conditional"])
def test_sharing_type_in_chinese_or_english(session: Session, sharing_type: str) -> None:
    assert _names(search_resources(session, sharing_type=sharing_type)) == ["person", "payment"]


def test_filters_combine(session: Session) -> None:
    assert _names(search_resources(session, q="身份", sharing_type="无条件共享")) == ["credit_record"]
    assert _names(search_resources(session, q="身份", provider="市财政局")) == []
