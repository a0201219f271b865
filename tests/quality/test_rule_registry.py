"""Every check rule is declared once (parameters, dimension) and built once; the two sides agree."""

from __future__ import annotations

from quality import compile as compiled
from schemas.rules import CHECK_RULES, DEFAULT_DIMENSION, RULES


def test_every_declared_rule_has_one_builder_and_no_builder_is_undeclared() -> None:
    assert set(compiled._BUILDERS) == set(RULES)


def test_parameters_and_dimensions_are_derived_from_the_declarations() -> None:
    for name, spec in RULES.items():
        assert CHECK_RULES[name] == (spec.required, spec.optional)
        assert DEFAULT_DIMENSION[name] == spec.dimension
    assert CHECK_RULES["references"] == (frozenset({"targets"}), frozenset({"when"}))
