"""FastAPI's validation errors as problem `errors`: each field named as the API spells it, in both languages.

A field's Chinese name comes from the contracts (`schemas/`: data items such as `id_number` 公民身份号码),
the sharing regulation's statements (`catalog.sharing_rules`: 用途, 依据, 使用范围, 使用期限), then the
Chinese head of the field's own description in the OpenAPI document ("用途 — what the data is for").
Each pydantic rule has a Chinese sentence; an unknown rule still names the field and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

from fastapi import FastAPI

__all__ = ["field_path", "validation_errors", "zh_label"]

_LOCATIONS = ("body", "query", "path", "header", "cookie")
# pydantic error type -> the Chinese rule, `{placeholders}` from the error's ctx
_RULES_ZH = {
    "missing": "为必填项，不能缺少",
    "string_too_short": "至少 {min_length} 个字符，不能为空",
    "string_too_long": "最多 {max_length} 个字符",
    "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项",
    "greater_than_equal": "须不小于 {ge}",
    "greater_than": "须大于 {gt}",
    "less_than_equal": "须不大于 {le}",
    "less_than": "须小于 {lt}",
    "int_parsing": "须为整数",
    "int_type": "须为整数",
    "int_from_float": "须为整数",
    "float_parsing": "须为数字",
    "float_type": "须为数字",
    "bool_parsing": "须为 true 或 false",
    "bool_type": "须为 true 或 false",
    "string_type": "须为文本",
    "list_type": "须为列表",
    "dict_type": "须为 JSON 对象",
    "model_type": "须为 JSON 对象",
    "model_attributes_type": "须为 JSON 对象",
    "date_parsing": "须为日期，格式 YYYY-MM-DD",
    "date_from_datetime_parsing": "须为日期，格式 YYYY-MM-DD",
    "date_type": "须为日期，格式 YYYY-MM-DD",
    "datetime_parsing": "须为 ISO 8601 时间",
    "literal_error": "须为以下之一：{expected}",
    "enum": "须为以下之一：{expected}",
    "extra_forbidden": "不是可接受的字段，请删除",
    "json_invalid": "不是合法的 JSON：{error}",
    "json_type": "不是合法的 JSON",
    "string_pattern_mismatch": "格式不符合要求（{pattern}）",
    "value_error": "取值无效",
    "finite_number": "须为有限的数字",
}
_MEMBERS_ZH = {"body": "请求体"}


def field_path(loc: Sequence[Any]) -> str:
    """`("body", "fields", 0)` -> `fields[0]`; the location (body, query, path) is dropped unless alone."""
    parts = list(loc)
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def _zh_head(description: str | None) -> str | None:
    """The Chinese name heading a description written "中文 — English"."""
    if not description or " — " not in description:
        return None
    head = description.split(" — ", 1)[0].strip()
    return head if head and any("\u4e00" <= ch <= "\u9fff" for ch in head) and len(head) <= 20 else None


@cache
def _source_labels() -> dict[str, str]:
    """Chinese names of the contracts' data items and of the regulation's statements (the sources of truth)."""
    from catalog.sharing_rules import STATEMENTS
    from schemas import load_all

    labels = {field.name: field.label for contract in load_all().values() for field in contract.fields}
    labels |= {name: label_zh for name, label_zh, _hint in STATEMENTS}
    return labels


def _openapi_labels(app: FastAPI) -> dict[str, str]:
    """Chinese names from the Chinese-first descriptions of the API's own parameters and model fields."""
    cached: dict[str, str] | None = getattr(app.state, "problem_field_labels", None)
    if cached is not None:
        return cached
    labels: dict[str, str] = {}
    document = app.openapi()
    for schema in document.get("components", {}).get("schemas", {}).values():
        for name, prop in (schema.get("properties") or {}).items():
            head = _zh_head(prop.get("description"))
            if head:
                labels.setdefault(name, head)
    for path in document.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                head = _zh_head(parameter.get("description"))
                if head:
                    labels.setdefault(parameter["name"], head)
    app.state.problem_field_labels = labels
    return labels


def zh_label(app: FastAPI | None, name: str) -> str | None:
    """The Chinese name of one API member (`purpose`, `id_number`, `limit`), None when none is known."""
    found = _MEMBERS_ZH.get(name) or _source_labels().get(name)
    if found is None and app is not None:
        found = _openapi_labels(app).get(name)
    return found


def _zh_field(app: FastAPI | None, path: str) -> str:
    """`subject.id_number` -> 公民身份号码（subject.id_number）: the Chinese name, then the English one."""
    names = [p for p in re.split(r"[.\[\]]", path) if p and not p.isdigit()]
    named = [zh for zh in (zh_label(app, n) for n in names) if zh]
    return f"{named[-1]}（{path}）" if named else path


def _rule_zh(error: dict[str, Any]) -> str:
    template = _RULES_ZH.get(str(error.get("type")))
    if template is None:
        return f"不符合规则 {error.get('type')}"
    context = {k: str(v) for k, v in (error.get("ctx") or {}).items()}
    try:
        return template.format(**context)
    except (KeyError, IndexError):
        return template.split("{", 1)[0].rstrip("：（ ")


def validation_errors(app: FastAPI | None, errors: Sequence[Any]) -> list[dict[str, str]]:
    """FastAPI/pydantic errors as problem `errors`: field, rule, English and Chinese message, no input echoed."""
    found = []
    for error in errors:
        path = field_path(error.get("loc", ()))
        rule = str(error.get("type", "invalid"))
        found.append(
            {
                "field": path,
                "rule": rule,
                "message": f"{path}: {error.get('msg', 'invalid value')}",
                "message_zh": f"{_zh_field(app, path)}{_rule_zh(error)}",
            }
        )
    return found
