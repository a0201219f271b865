"""The hub's one message catalogue for pages: Chinese first, English with `?lang=en` (gettext, via Babel).

The texts live in `web/locale/<zh|en>/LC_MESSAGES/monitor.po`: every fixed text of the monitor, the
landing page and the check page, and the names of the hub's own codes (event types, rules, outcomes,
delivery modes, alert levels, error codes, alert texts with `{placeholders}`). The msgid is the key
the code passes to `label`; add a text to both files (an empty English msgstr shows the Chinese one).
The .po files are read with Babel and compiled in memory at import, so no build step is needed.
Names the contracts own (resources, fields, source systems) come from the contracts (`resource_label`,
`field_label`, `system_label`), never re-typed here.
"""

from __future__ import annotations

import gettext
import io
import re
from functools import cache
from pathlib import Path
from typing import Literal

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from schemas import Contract, load_all, load_systems

__all__ = [
    "LABELS",
    "LOCALE_DIR",
    "Lang",
    "coded",
    "field_label",
    "item_label",
    "label",
    "one_language",
    "party_label",
    "pick_lang",
    "resource_label",
    "run_error_label",
    "system_label",
    "texts",
]

Lang = Literal["zh", "en"]
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
_DOMAIN = "monitor"


def _read_catalog(lang: Lang) -> Catalog:
    with (LOCALE_DIR / lang / "LC_MESSAGES" / f"{_DOMAIN}.po").open("rb") as handle:
        return read_po(handle, locale=lang, domain=_DOMAIN)


def _translations(catalog: Catalog) -> gettext.GNUTranslations:
    """The catalogue compiled to .mo bytes in memory and opened with gettext."""
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _load() -> tuple[dict[str, tuple[str, str]], dict[Lang, gettext.GNUTranslations]]:
    zh, en = _read_catalog("zh"), _read_catalog("en")
    english = {str(m.id): str(m.string or "") for m in en if m.id}
    labels = {str(m.id): (str(m.string), english.get(str(m.id), "")) for m in zh if m.id}
    chinese = _translations(zh)
    translations: dict[Lang, gettext.GNUTranslations] = {"zh": chinese, "en": _translations(en)}
    translations["en"].add_fallback(chinese)  # an empty English text shows the Chinese one
    return labels, translations


LABELS, _GETTEXT = _load()
"""Every text as key -> (Chinese, English or ""), in the order of the Chinese catalogue."""


def pick_lang(value: str | None) -> Lang:
    """`en` when asked for, Chinese otherwise."""
    return "en" if (value or "").lower().startswith("en") else "zh"


def label(key: str, lang: Lang = "zh", /, **params: object) -> str:
    """The text for `key` in `lang`, `{placeholders}` filled; an unknown key shows as itself (visible, no error).

    An empty English text means the English page shows the original (usually English) detail instead.
    """
    text = _GETTEXT["en" if lang == "en" else "zh"].gettext(key)  # gettext answers the key itself if unknown
    return text.format(**params) if params and key in LABELS else text


def texts(prefix: str, lang: Lang = "zh") -> dict[str, str]:
    """Every text whose key starts with `prefix`, keyed without it (for templates that read `t.name`)."""
    return {key.removeprefix(prefix): label(key, lang) for key in LABELS if key.startswith(prefix)}


def one_language(text: str | None, lang: Lang = "zh") -> str:
    """The part of a "中文 — English" text in `lang` (texts without the separator pass as they are)."""
    if not text or " — " not in text:
        return text or ""
    zh, _, en = text.partition(" — ")
    return en if lang == "en" else zh


def coded(prefix: str, code: str | None, lang: Lang = "zh") -> str:
    """The name of one of the hub's codes (`ev_`, `rule_`, `mode_`, `err_`...); unknown codes show as they are."""
    if not code:
        return "—"
    key = f"{prefix}_{code}"
    return label(key, lang) if key in LABELS else code


@cache
def _contracts() -> dict[str, Contract]:
    return load_all()


def resource_label(resource: str | None, lang: Lang = "zh") -> str:
    """A resource's title from its contract (人口基础信息 / Population base information)."""
    contract = _contracts().get(resource or "")
    if contract is None:
        return resource or "—"
    return contract.title_en if lang == "en" else contract.title


def field_label(resource: str | None, field: str | None, lang: Lang = "zh") -> str:
    """A field's label from its contract; a composite key `a,b` labels each part."""
    if not field:
        return "—"
    contract = _contracts().get(resource or "")
    labels = {}
    if contract is not None:
        labels = {f.name: (f.label_en if lang == "en" else f.label) for f in contract.fields}
    if resource is None:  # any resource: the first contract that has the field
        for other in _contracts().values():
            for f in other.fields:
                labels.setdefault(f.name, f.label_en if lang == "en" else f.label)
    return "、".join(labels.get(part.strip(), part.strip()) for part in field.split(","))


@cache
def _items() -> dict[str, tuple[str, str]]:
    from exchange.verify.items import load_items

    return {code: (item.name, item.name_en) for code, item in load_items().items()}


def item_label(item: str | None, lang: Lang = "zh") -> str:
    """A verification item by its catalogue name (生存状态核验...); an unknown code shows as it is."""
    if not item:
        return "—"
    names = _items().get(item)
    return item if names is None else (names[1] if lang == "en" and names[1] else names[0])


def system_label(system: str | None, lang: Lang = "zh") -> str:
    """A source system's name from schemas/systems.yaml (人口基础信息库)."""
    entry = load_systems().get(system or "", {})
    return str(entry.get("label_en" if lang == "en" else "label") or system or "—")


def party_label(party: str | None, lang: Lang = "zh", names: dict[str, str] | None = None) -> str:
    """A source or target of the exchange log in words: the hub, a system, a dataset, a department, a client."""
    if not party:
        return "—"
    names = names or {}
    if party in names:
        return names[party]
    if party in ("hub", "govhub", "web"):
        return label("party_hub", lang)
    if party in ("client:unknown", "unknown"):
        return label("party_unknown_client", lang)
    kind, _, rest = party.partition("/")
    if kind in ("curated", "quarantine") and rest:
        return f"{label('party_' + kind, lang)}·{resource_label(rest, lang)}"
    if kind == "department" and rest:
        code, _, resource = rest.partition("/")
        return f"{names.get(code, code)}·{resource_label(resource, lang)}" if resource else names.get(code, code)
    if party in load_systems():
        return system_label(party, lang)
    if party.startswith("client:"):
        return names.get(party.removeprefix("client:"), party.removeprefix("client:"))
    return party


_RUN_ERRORS = (
    ("run_error_connect", re.compile(r"connect|connection|refused|unreachable|name or service", re.I)),
    ("run_error_timeout", re.compile(r"timed? ?out|timeout", re.I)),
    ("run_error_auth", re.compile(r"\b(401|403)\b|unauthori[sz]ed|forbidden", re.I)),
    ("run_error_drift", re.compile(r"drift|schema", re.I)),
    ("run_error_http", re.compile(r"\bHTTP\b|status \d{3}", re.I)),
)


def run_error_label(error: str | None, lang: Lang = "zh") -> str:
    """Why a run failed, for a reader: Chinese words by cause; the English page keeps the raw error text."""
    if not error:
        return ""
    if lang == "en":
        return error
    for key, pattern in _RUN_ERRORS:
        if pattern.search(error):
            return label(key, lang)
    return label("run_error_other", lang)
