"""FastAPI's validation errors as problem `errors`: each field named as the API spells it, in both languages.

A field's Chinese name comes from the contracts (`schemas/`: data items such as `id_number` 公民身份号码),
the sharing regulation's statements (`catalog.sharing_rules`: 用途, 依据, 使用范围, 使用期限), then the
Chinese head of the field's own description in the route's model or parameter ("用途 — what the data is for").
Each pydantic rule has a Chinese sentence; an unknown rule still names the field and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

from pydantic import BaseModel

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
_DATA_PARENTS = ("subject", "subjects", "rows")  # members holding a contract's data items


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
    """Chinese names of the contracts' data items (the source of truth for them)."""
    from schemas import load_all

    return {field.name: field.label for contract in load_all().values() for field in contract.fields}


@cache
def _statement_labels() -> dict[str, str]:
    """The regulation's statements of an application (用途, 依据, 使用范围, 使用期限)."""
    from catalog.sharing_rules import STATEMENTS

    return {name: label_zh for name, label_zh, _hint in STATEMENTS}


def _route_labels(route: Any) -> dict[str, str]:
    """Chinese names from the Chinese-first descriptions of one route's parameters and body model fields."""
    labels: dict[str, str] = {}

    def note(name: str, description: str | None) -> None:
        head = _zh_head(description)
        if head:
            labels.setdefault(name, head)

    def walk(dependant: Any) -> None:
        for param in (*dependant.path_params, *dependant.query_params, *dependant.header_params):
            note(param.alias or param.name, param.field_info.description)
        for param in dependant.body_params:
            model = param.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                for name, field in model.model_fields.items():
                    note(field.alias or name, field.description)
            note(param.alias or param.name, param.field_info.description)
        for sub in dependant.dependencies:
            walk(sub)

    dependant = getattr(route, "dependant", None)
    if dependant is not None:
        walk(dependant)
    return labels


def zh_label(route: Any, name: str, *, data_item: bool = False) -> str | None:
    """The Chinese name of one member of `route`'s request (`purpose`, `limit`) or, with `data_item`, of a
    contract's data item (`subject.id_number`); None when none is known. A route's own description wins
    over a data item of the same name (a target's `name` is not a person's 姓名)."""
    own = _route_labels(route).get(name) if route is not None else None
    contract = _source_labels().get(name)
    found = _MEMBERS_ZH.get(name) or _statement_labels().get(name)
    return found or ((contract or own) if data_item else own)


def _zh_field(route: Any, path: str) -> str:
    """`subject.id_number` -> 公民身份号码（subject.id_number）: the Chinese name, then the English one."""
    names = [p for p in re.split(r"[.\[\]]", path) if p and not p.isdigit()]
    if not names:
        return path
    label = zh_label(route, names[-1], data_item=any(n in _DATA_PARENTS for n in names[:-1]))
    return f"{label}（{path}）" if label else path


def _rule_zh(error: dict[str, Any]) -> str:
    template = _RULES_ZH.get(str(error.get("type")))
    if template is None:
        return f"不符合规则 {error.get('type')}"
    context = {k: str(v) for k, v in (error.get("ctx") or {}).items()}
    try:
        return template.format(**context)
    except (KeyError, IndexError):
        return template.split("{", 1)[0].rstrip("：（ ")


def validation_errors(route: Any, errors: Sequence[Any]) -> list[dict[str, str]]:
    """FastAPI/pydantic errors of a request to `route` as problem `errors`: field, rule, English and Chinese
    message (the field named in both), no input echoed."""
    found = []
    for error in errors:
        path = field_path(error.get("loc", ()))
        rule = str(error.get("type", "invalid"))
        found.append(
            {
                "field": path,
                "rule": rule,
                "message": f"{path}: {error.get('msg', 'invalid value')}",
                "message_zh": f"{_zh_field(route, path)}{_rule_zh(error)}",
            }
        )
    return found
