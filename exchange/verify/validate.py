"""Check a verification request's members against the item and the contracts (before any lookup).

Subject values are checked with the contract's own field checks (GB 11643 / GB 32100 check characters
via `quality.codes`, patterns, lengths; a `references` field accepts any of its targets), so a typo
in an ID number is a 422 naming the rule, not a silent "no match".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from exchange.verify.errors import VerificationError
from exchange.verify.items import Param, VerificationItem
from quality.codes import check_id_number, check_region_code, check_uscc
from schemas import Field, load_contract

__all__ = ["MAX_TEXT", "check_text", "validate_params", "validate_subject"]

MAX_TEXT = 200
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UPPER_RULES = frozenset({"gb11643", "gb32100"})
_CHECK_REASONS = ("check_digit", "check_char", "org_code")


def _bad(message: str, field: str, code: str = "invalid_request", label: str | None = None) -> VerificationError:
    return VerificationError(422, code, message, field=field, field_label=label)


def check_text(value: Any, *, field: str, max_len: int, required: bool = True) -> str:
    """A non-empty string of at most `max_len` characters, or a 422 naming `field`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _bad(
                f"'{field}' is required (办件编号 case_number and 用途 purpose on every request)",
                field,
                "missing_field",
            )
        return ""
    if not isinstance(value, str):
        raise _bad(f"'{field}' must be a string", field)
    if len(value) > max_len:
        raise _bad(f"'{field}' is {len(value)} characters; at most {max_len}", field, "too_large")
    return value.strip()


@cache
def _field(resource: str, name: str) -> Field:
    return load_contract(resource).field(name)


def _field_problem(resource: str, name: str, value: str) -> str | None:
    """Why `value` fails the contract field's format checks, or None when it passes."""
    f = _field(resource, name)
    for check in f.checks:
        if check.severity == "warn":
            continue
        rule, p = check.rule, check.params
        if rule == "gb11643" and (reason := check_id_number(value)) is not None:
            return f"GB 11643 citizen ID check failed ({reason})"
        if rule == "gb32100" and (reason := check_uscc(value, skip=tuple(p.get("relax") or {}))) is not None:
            return f"GB 32100 unified social credit code check failed ({reason})"
        if rule == "pattern" and not re.fullmatch(p["regex"], value):
            return f"does not match the pattern {p['regex']}"
        if rule == "length" and not (p.get("min", 0) <= len(value) <= p.get("max", MAX_TEXT)):
            return f"length {len(value)} outside {p.get('min', 0)}..{p.get('max', MAX_TEXT)}"
        if rule == "references":
            problems = [_field_problem(*target.split("."), value) for target in p["targets"]]
            if all(problems):
                return "is neither " + " nor ".join(
                    f"a valid {t} ({why})" for t, why in zip(p["targets"], problems, strict=True)
                )
    return None


def _code(problem: str, default: str) -> str:
    """invalid_check_digit when a GB 11643 / GB 32100 check character is what failed."""
    return "invalid_check_digit" if any(f"({r})" in problem for r in _CHECK_REASONS) else default


def _normalise(resource: str, name: str, value: str) -> str:
    rules = {c.rule for c in _field(resource, name).checks}
    if rules & _UPPER_RULES or "references" in rules:
        return value.strip().upper()
    return value.strip()


def validate_subject(item: VerificationItem, subject: Any, *, where: str = "subject") -> dict[str, str]:
    """The subject as the item needs it (exactly its fields, strings, checked), or a 422."""
    if not isinstance(subject, Mapping):
        raise _bad(f"'{where}' must be an object with {list(item.subject)}", where, "malformed_subject")
    missing = [k for k in item.subject if k not in subject]
    extra = sorted(set(subject) - set(item.subject))
    if missing or extra:
        raise _bad(
            f"'{where}' must hold exactly {list(item.subject)}; "
            f"missing {missing or 'none'}, unexpected {extra or 'none'}",
            where,
            "malformed_subject",
        )
    out: dict[str, str] = {}
    for name in item.subject:
        at = f"{where}.{name}"
        value = check_text(subject[name], field=at, max_len=MAX_TEXT)
        value = _normalise(item.resource, name, value)
        problem = _field_problem(item.resource, name, value)
        if problem is not None:
            code = _code(problem, "invalid_subject")
            raise _bad(f"'{at}' {problem}", at, code)
        out[name] = value
    return out


def validate_params(item: VerificationItem, params: Any) -> dict[str, Any]:
    """Typed parameter values (int, date, Decimal, str) for the item, or a 422 naming the parameter."""
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise _bad("'params' must be an object", "params")
    known = {p.name for p in item.params}
    extra = sorted(set(params) - known)
    if extra:
        raise _bad(f"unknown parameter(s) {extra}; item {item.code} takes {sorted(known) or 'none'}", "params")
    out: dict[str, Any] = {}
    for p in item.params:
        if params.get(p.name) is None:
            if p.required:
                raise _bad(
                    f"parameter '{p.name}' ({p.label}) is required",
                    f"params.{p.name}",
                    "missing_field",
                    f"参数·{p.label}",
                )
            continue
        out[p.name] = _param_value(item, p, params[p.name])
    return out


def _param_value(item: VerificationItem, p: Param, value: Any) -> Any:
    at = f"params.{p.name}"
    if p.type == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(f"'{at}' must be an integer", at)
        if (p.min is not None and value < p.min) or (p.max is not None and value > p.max):
            raise _bad(f"'{at}' must be within {p.min}..{p.max}", at)
        return value
    if p.type == "date":
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise _bad(f"'{at}' must be a date YYYY-MM-DD", at)
        try:
            return date.fromisoformat(value)
        except ValueError as e:
            raise _bad(f"'{at}' is not a calendar date", at) from e
    if p.type == "decimal":
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _bad(f"'{at}' must be an amount such as \"120.00\"", at)
        try:
            amount = Decimal(str(value))
        except InvalidOperation as e:
            raise _bad(f"'{at}' is not a number", at) from e
        if not amount.is_finite() or amount < 0 or len(str(value)) > 24:
            raise _bad(f"'{at}' must be a finite, non-negative amount", at)
        return amount
    text = check_text(value, field=at, max_len=MAX_TEXT)
    if p.type == "region":
        if not (len(text) == 6 and text.isdigit() and check_region_code(text)):
            raise _bad(f"'{at}' is not a GB/T 2260 region code", at)
        return text
    assert p.field is not None
    text = _normalise(item.resource, p.field, text)
    problem = _field_problem(item.resource, p.field, text)
    if problem is not None:
        code = _code(problem, "invalid_request")
        raise _bad(f"'{at}' {problem}", at, code)
    return text
