"""The pages' gettext catalogues (web/locale): the same keys in both languages, the same placeholders."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from web.monitor import catalogue_add
from web.monitor.i18n import LABELS, LOCALE_DIR, coded, label, texts

_PLACEHOLDER = re.compile(r"{(\w+)}")


def _catalog(lang: str, root: Path = LOCALE_DIR) -> dict[str, str]:
    with (root / lang / "LC_MESSAGES" / "monitor.po").open("rb") as handle:
        return {str(m.id): str(m.string or "") for m in read_po(handle) if m.id}


def test_both_languages_hold_the_same_keys_and_chinese_is_complete() -> None:
    zh, en = _catalog("zh"), _catalog("en")
    assert list(zh) == list(en) == list(LABELS)
    assert not [key for key, text in zh.items() if not text.strip()]


def test_an_english_text_has_the_chinese_texts_placeholders() -> None:
    english_only = {"detail"}  # the raw (English) detail only the English page shows
    mismatched = [
        key
        for key, (zh, en) in LABELS.items()
        if en and set(_PLACEHOLDER.findall(en)) - english_only != set(_PLACEHOLDER.findall(zh))
    ]
    assert not mismatched


def test_labels_come_from_the_catalogues_with_their_fallbacks() -> None:
    assert label("overview") == "总览" and label("overview", "en") == "Overview"
    assert label("verify_valid", "en", item="A", version=3, issued="t").startswith("签章有效：A")  # no English
    assert label("no_such_key", "en") == "no_such_key"
    assert coded("ev", "ingest") == "采集" and coded("ev", "unheard_of") == "unheard_of"
    assert texts("sub_", "en")["granted"] == "granted"


def test_texts_are_added_to_both_catalogues_also_from_a_python_labels_dict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, copy)
    monkeypatch.setattr(catalogue_add, "LOCALE_DIR", copy)
    before = {lang: (copy / lang / "LC_MESSAGES" / "monitor.po").read_bytes() for lang in ("zh", "en")}
    assert catalogue_add.add_texts([("overview", *LABELS["overview"])]) == ["overview"]
    assert all((copy / lang / "LC_MESSAGES" / "monitor.po").read_bytes() == before[lang] for lang in before)
    branch = tmp_path / "i18n.py"
    branch.write_text(
        'LABELS: dict[str, tuple[str, str]] = {"overview": ("改了", "changed"), "new_key": ("新文本 {n}", "New {n}")}',
        encoding="utf-8",
    )
    written = catalogue_add.add_texts(catalogue_add.labels_in_python(branch), replace=False)
    assert written == ["new_key"]  # an existing key keeps the catalogue's text
    zh, en = _catalog("zh", copy), _catalog("en", copy)
    assert (zh["new_key"], en["new_key"], zh["overview"]) == ("新文本 {n}", "New {n}", "总览")
    assert list(zh)[-1] == "new_key" and list(zh) == list(en)
