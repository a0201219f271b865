"""Compile a contract's field checks into vectorised Arrow rules (one boolean mask per rule).

Each `Rule` evaluates over the whole typed batch at once and returns a failure mask
(true = the row fails, null = not evaluated, e.g. the value is missing) plus, for some rules,
a per-row detail used in the Chinese message (the ID's own birth date, the other field's
value...). Nothing here loops over rows; messages are only formatted for failing rows.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

import pyarrow as pa
import pyarrow.compute as pc

from core.time import BEIJING, beijing_day_start
from quality import codes
from schemas import Check, Contract, Field, QualityError, arrow_type
from schemas.rules import RULES

__all__ = ["Frame", "KeyLookup", "Outcome", "Reference", "Rule", "compile_contract", "reference_targets"]

_ID_REASONS_ZH = {
    "format": "格式错误（应为17位数字加1位数字或大写X）",
    "region": "地址码不是有效的行政区划代码",
    "birth_date": "出生日期码无效（不是真实日期、早于1880年或晚于今天）",
    "check_digit": "校验位错误",
}
_USCC_REASONS_ZH = {
    "format": "格式错误（应为18位数字或大写字母，不含I、O、S、V、Z）",
    "authority_type": "登记管理部门码和机构类别码无效",
    "region": "行政区划码无效",
    "org_code": "主体标识码（组织机构代码）校验码错误",
    "check_char": "校验码错误",
}
_GENDER_ZH = {"1": "男", "2": "女"}
_COMPILED: dict[int, tuple[Contract, tuple[Rule, ...]]] = {}


@runtime_checkable
class KeyLookup(Protocol):
    """A compact key set (e.g. `lake.KeySet`): membership of each value, null for null values."""

    def contains(self, values: pa.Array) -> pa.Array: ...


# What a `references` check is given per "resource.field": the values, or a key set answering for them.
Reference: TypeAlias = pa.Array | pa.ChunkedArray | KeyLookup


@dataclass(frozen=True)
class Frame:
    """What rules evaluate over: typed columns plus the validation context."""

    typed: Mapping[str, pa.Array]
    today: dt.date
    references: Mapping[str, Reference]
    tomorrow_utc: dt.datetime = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tomorrow_utc", beijing_day_start(self.today + dt.timedelta(days=1)))


@dataclass(frozen=True)
class Outcome:
    """A rule's result: `failed` (true = fails, null = not evaluated) and an optional per-row detail."""

    failed: pa.Array
    detail: pa.Array | None = None


@dataclass(frozen=True)
class Rule:
    """One compiled check of one field."""

    rule: str
    field: str
    severity: Literal["error", "warn"]
    dimension: str
    evaluate: Callable[[Frame], Outcome]
    message: Callable[[str, Any], str]  # (value as received, detail) -> Chinese message
    key_rule: bool = False  # also applies to source deletions (primary-key checks)


def reference_targets(contract: Contract) -> set[str]:
    """Every "resource.field" the contract's `references` checks need to be given."""
    return {t for f in contract.fields for c in f.checks if c.rule == "references" for t in c.params["targets"]}


def compile_contract(contract: Contract) -> tuple[Rule, ...]:
    """The contract's field checks as vectorised rules, in contract order (compiled once per contract)."""
    cached = _COMPILED.get(id(contract))
    if cached is not None and cached[0] is contract:
        return cached[1]
    rules = []
    for f in contract.fields:
        for check in f.checks:
            for severity, (evaluate, message) in _variants(contract, f, check):
                rules.append(
                    Rule(
                        rule=check.rule,
                        field=f.name,
                        severity=severity,
                        dimension=check.dimension,
                        evaluate=evaluate,
                        message=message,
                        key_rule=f.name in contract.primary_key and check.rule != "references",
                    )
                )
    _COMPILED[id(contract)] = (contract, tuple(rules))
    return tuple(rules)


_Built = tuple[Callable[[Frame], Outcome], Callable[[str, Any], str]]  # (evaluate, message)


def _variants(contract: Contract, f: Field, check: Check) -> list[tuple[Literal["error", "warn"], _Built]]:
    """(severity, built rule) for each rule a check compiles to: one, or two for a `gb32100` check
    that relaxes sub-checks to warnings."""
    if check.rule == "gb32100":
        return _gb32100_variants(contract, f, check)
    return [(check.severity, _BUILDERS[check.rule](contract, f, check))]


def _gb11643(contract: Contract, f: Field, check: Check):
    def evaluate(frame: Frame) -> Outcome:
        reasons = codes.check_id_numbers(frame.typed[f.name], today=frame.today)
        return Outcome(reasons.is_valid(), reasons)

    return evaluate, lambda v, d: f"{f.label}{_ID_REASONS_ZH.get(d, d)}：{v}"


def _gb32100(contract: Contract, f: Field, check: Check):
    skip = tuple((check.params.get("relax") or {}).keys())  # relaxed sub-checks: not errors here

    def evaluate(frame: Frame) -> Outcome:
        reasons = codes.check_usccs(frame.typed[f.name], skip=skip)
        return Outcome(reasons.is_valid(), reasons)

    return evaluate, lambda v, d: f"{f.label}{_USCC_REASONS_ZH.get(d, d)}：{v}"


def _gb32100_variants(contract: Contract, f: Field, check: Check) -> list[tuple[Literal["error", "warn"], _Built]]:
    """A `gb32100` check whose contract relaxes sub-checks to `warn` compiles to two rules: the
    enforced sub-checks at the check's severity, the relaxed ones as a warning on rows that pass
    the enforced ones (`off` sub-checks are not applied at all)."""
    relax = check.params.get("relax") or {}
    enforced = _gb32100(contract, f, check)
    if "warn" not in relax.values():
        return [(check.severity, enforced)]
    off = tuple(sub for sub, mode in relax.items() if mode == "off")
    strict = tuple(relax)

    def evaluate(frame: Frame) -> Outcome:
        values = frame.typed[f.name]
        passed = pc.invert(codes.check_usccs(values, skip=strict).is_valid())
        reasons = codes.check_usccs(values, skip=off)
        failed = pc.and_kleene(passed, reasons.is_valid())  # only rows the enforced sub-checks let through
        return Outcome(pc.if_else(values.is_valid(), failed, pa.scalar(None, pa.bool_())), reasons)

    def message(v: str, d: Any) -> str:
        return (
            f"{f.label}{_USCC_REASONS_ZH.get(d, d)}（数据契约将此项放宽为警告，记录已接收）：{v} / "
            f"{f.label_en}: GB 32100 sub-check '{d}' fails; the contract relaxes it to a warning, the record is kept"
        )

    return [(check.severity, enforced), ("warn", (evaluate, message))]


def _gb2260(contract: Contract, f: Field, check: Check):
    prefix = check.params.get("prefix")

    def evaluate(frame: Frame) -> Outcome:
        values = frame.typed[f.name]
        bad = pc.invert(codes.check_region_codes(values))
        if prefix is not None:
            bad = pc.or_(bad, pc.invert(pc.starts_with(values, str(prefix))))
        return Outcome(bad)

    where = f"（须以{prefix}开头）" if prefix else ""
    return evaluate, lambda v, d: f"{f.label}不是有效的行政区划代码（GB/T 2260）{where}：{v}"


def _enum(contract: Contract, f: Field, check: Check):
    table = contract.code_tables[check.params["table"]]
    allowed = pa.array(list(table.codes), type=pa.string())

    def evaluate(frame: Frame) -> Outcome:
        values = frame.typed[f.name]
        found = pc.is_in(values, value_set=allowed.cast(values.type))
        return Outcome(pc.if_else(values.is_valid(), pc.invert(found), pa.scalar(None, pa.bool_())))

    def message(v: str, d: Any) -> str:
        return f"{f.label}不在代码表（{table.standard}）中：{v}"

    return evaluate, message


def _range(contract: Contract, f: Field, check: Check):
    target = arrow_type(f)
    if f.type in ("string", "boolean"):
        raise QualityError(f"{contract.file}, field '{f.name}': check 'range' needs a number, date or timestamp")
    low = _bound(check.params.get("min"), f, target, contract)
    high = _bound(check.params.get("max"), f, target, contract)

    def evaluate(frame: Frame) -> Outcome:
        values = frame.typed[f.name]
        bad = pa.nulls(len(values), pa.bool_())
        if low is not None:
            bad = pc.less(values, low)
        if high is not None:
            above = pc.greater(values, high)
            bad = above if low is None else pc.or_(bad, above)
        return Outcome(bad)

    lo, hi = check.params.get("min", "-∞"), check.params.get("max", "+∞")
    return evaluate, lambda v, d: f"{f.label}超出取值范围[{lo}, {hi}]：{v}"


def _bound(raw: Any, f: Field, target: pa.DataType, contract: Contract) -> pa.Scalar | None:
    if raw is None:
        return None
    try:
        if f.type == "date":
            value = raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw))
        elif f.type == "timestamp":
            value = dt.datetime.fromisoformat(str(raw))
            if value.tzinfo is None:
                value = value.replace(tzinfo=BEIJING)
        elif f.type == "decimal":
            value = decimal.Decimal(str(raw))
        elif f.type == "integer":
            value = int(raw)
        else:
            value = float(raw)
        return pa.scalar(value, type=target)
    except (ValueError, TypeError, decimal.InvalidOperation, pa.ArrowInvalid) as e:
        raise QualityError(
            f"{contract.file}, field '{f.name}': range bound {raw!r} does not fit type {target}; fix the contract"
        ) from e


def _length(contract: Contract, f: Field, check: Check):
    low, high = check.params.get("min"), check.params.get("max")

    def evaluate(frame: Frame) -> Outcome:
        lengths = pc.utf8_length(frame.typed[f.name].cast(pa.string()))
        bad = None
        if low is not None:
            bad = pc.less(lengths, int(low))
        if high is not None:
            above = pc.greater(lengths, int(high))
            bad = above if bad is None else pc.or_(bad, above)
        return Outcome(bad if bad is not None else pa.nulls(len(lengths), pa.bool_()), lengths)

    span = f"{low if low is not None else 0}到{high}" if high is not None else f"至少{low}"
    return evaluate, lambda v, d: f"{f.label}长度应为{span}个字符，实际为{d}个：{_clip(v)}"


def _pattern(contract: Contract, f: Field, check: Check):
    regex = check.params["regex"]

    def evaluate(frame: Frame) -> Outcome:
        return Outcome(pc.invert(pc.match_substring_regex(frame.typed[f.name].cast(pa.string()), regex)))

    return evaluate, lambda v, d: f"{f.label}格式不符合规则 {regex}：{_clip(v)}"


def _not_future(contract: Contract, f: Field, check: Check):
    if f.type not in ("date", "timestamp"):
        raise QualityError(f"{contract.file}, field '{f.name}': check 'not_future' needs a date or timestamp")

    def evaluate(frame: Frame) -> Outcome:
        values = frame.typed[f.name]
        if f.type == "date":
            return Outcome(pc.greater(values, pa.scalar(frame.today, pa.date32())))
        return Outcome(pc.greater_equal(values, pa.scalar(frame.tomorrow_utc, values.type)))

    return evaluate, lambda v, d: f"{f.label}晚于当前日期：{v}"


def _not_before_field(contract: Contract, f: Field, check: Check):
    other = contract.field(check.params["field"])

    def evaluate(frame: Frame) -> Outcome:
        ref = frame.typed[other.name]
        return Outcome(pc.less(frame.typed[f.name], ref), ref)

    return evaluate, lambda v, d: f"{f.label}早于{other.label}（{d}）：{v}"


def _id_birth_date(contract: Contract, f: Field, check: Check):
    id_field = contract.field(check.params["id_field"])

    def evaluate(frame: Frame) -> Outcome:
        births = codes.id_birth_dates(frame.typed[id_field.name])
        return Outcome(pc.not_equal(frame.typed[f.name], births), births)

    return evaluate, lambda v, d: f"{f.label}与{id_field.label}中的出生日期（{d}）不一致：{v}"


def _id_gender(contract: Contract, f: Field, check: Check):
    id_field = contract.field(check.params["id_field"])

    def evaluate(frame: Frame) -> Outcome:
        genders = codes.id_genders(frame.typed[id_field.name])
        return Outcome(pc.not_equal(frame.typed[f.name], genders), genders)

    def message(v: str, d: Any) -> str:
        return f"{f.label}与{id_field.label}中的性别（{d} {_GENDER_ZH.get(d, '')}）不一致：{v}"

    return evaluate, message


def _uscc_entity_type(contract: Contract, f: Field, check: Check):
    uscc = contract.field(check.params["uscc_field"])
    # a code the contract accepts (its relaxed GB 32100 sub-checks aside) is judged like a valid one
    relaxed = tuple(k for c in uscc.checks if c.rule == "gb32100" for k in (c.params.get("relax") or {}))

    def evaluate(frame: Frame) -> Outcome:
        codes_ = frame.typed[uscc.name]
        valid = pc.invert(codes.check_usccs(codes_, skip=relaxed).is_valid())
        prefix = pc.if_else(valid, pc.utf8_slice_codeunits(codes_, 0, 2), pa.scalar(None, pa.string()))
        return Outcome(pc.not_equal(frame.typed[f.name], prefix), prefix)

    def message(v: str, d: Any) -> str:
        return f"{f.label}与{uscc.label}的登记管理部门码和机构类别码（{d}）不一致：{v}"

    return evaluate, message


def _references(contract: Contract, f: Field, check: Check):
    targets = tuple(check.params["targets"])
    when = check.params.get("when")
    if when is not None and not (isinstance(when, Mapping) and all(name in contract.field_names for name in when)):
        raise QualityError(
            f"{contract.file}, field '{f.name}': references 'when' must map field names of this contract "
            f"to a value or list of values, got {when!r}"
        )

    def evaluate(frame: Frame) -> Outcome:
        missing = [t for t in targets if t not in frame.references]
        if missing:
            raise QualityError(
                f"{contract.resource}.{f.name}: references check needs the values of {missing}; "
                "pass them in validate(references={...})"
            )
        values = frame.typed[f.name].cast(pa.string())
        found = _member_of_any(values, [frame.references[t] for t in targets])
        bad = pc.if_else(values.is_valid(), pc.invert(found), pa.scalar(None, pa.bool_()))
        for name, wanted in (when or {}).items():
            wanted = wanted if isinstance(wanted, list | tuple) else [wanted]
            applies = pc.is_in(frame.typed[name].cast(pa.string()), value_set=pa.array([str(w) for w in wanted]))
            bad = pc.if_else(applies, bad, pa.scalar(None, pa.bool_()))
        return Outcome(bad)

    names = "、".join(targets)
    return evaluate, lambda v, d: f"{f.label}在关联资源（{names}）中不存在：{v}"


def _member_of_any(values: pa.Array, references: Sequence[Reference]) -> pa.Array:
    """True where the value is in one of the reference sets (key sets answer themselves)."""
    found: pa.Array | None = None
    for ref in references:
        hit = ref.contains(values) if isinstance(ref, KeyLookup) else pc.is_in(values, value_set=_as_string(ref))
        found = hit if found is None else pc.or_(found, hit)
    return found if found is not None else pa.array([False] * len(values), pa.bool_())


def _as_string(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr if arr.type == pa.string() else arr.cast(pa.string())


def _clip(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


_BUILDERS: dict[str, Callable[[Contract, Field, Check], tuple[Callable[[Frame], Outcome], Callable]]] = {
    "gb11643": _gb11643,
    "gb32100": _gb32100,
    "gb2260": _gb2260,
    "enum": _enum,
    "range": _range,
    "length": _length,
    "pattern": _pattern,
    "not_future": _not_future,
    "not_before_field": _not_before_field,
    "id_birth_date": _id_birth_date,
    "id_gender": _id_gender,
    "uscc_entity_type": _uscc_entity_type,
    "references": _references,
}
_UNMATCHED = sorted(set(RULES) ^ set(_BUILDERS))
if _UNMATCHED:  # each rule declared in schemas.rules has exactly one builder here, and no builder is undeclared
    raise ImportError(f"check rules without a builder or a declaration (schemas/rules.py): {_UNMATCHED}")
