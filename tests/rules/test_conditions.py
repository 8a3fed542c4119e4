"""Rule conditions: CEL compiled against the declared variables when a rule loads, evaluated on dicts."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from jianyi.models.enums import Level, StepKind
from jianyi.rules.conditions import VARIABLES, Condition, ConditionError, compile_condition, flatten_context

CONTEXT = {
    "step": {"kind": StepKind.opinion, "unit": "city-transport", "iteration": 2, "optional": False},
    "suggestion": {"level": Level.important, "instructed": True, "co_unit_count": 2, "campaign": None},
    "overdue_working_days": 3,
}


def test_the_variables_the_scheduler_was_promised_are_declared() -> None:
    promised = {
        "step.kind",
        "step.unit",
        "step.iteration",
        "step.optional",
        "suggestion.level",
        "suggestion.channel",
        "suggestion.category",
        "suggestion.campaign",
        "suggestion.district",
        "suggestion.rework_count",
        "suggestion.instructed",
        "overdue_working_days",
    }
    assert promised <= set(VARIABLES)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("suggestion.level == 'important' && step.iteration > 1", True),
        ("step.kind in ['opinion', 'co_opinion'] && step.unit.startsWith('city-')", True),
        ("overdue_working_days >= 5", False),
        ("suggestion.instructed && suggestion.co_unit_count > 0", True),
        ("suggestion.campaign == ''", True),  # None is the zero value: no campaign
        ("!step.optional", True),
    ],
)
def test_conditions_evaluate_against_nested_plain_dicts(source: str, expected: bool) -> None:
    assert compile_condition(source).evaluate(CONTEXT) is expected


def test_absent_values_are_their_zero_value() -> None:
    assert compile_condition(
        "suggestion.level == '' && step.iteration == 0 && !suggestion.instructed"
    ).evaluate({})
    assert compile_condition("overdue_working_days == 0").evaluate(None)


def test_flat_qualified_names_are_accepted_too() -> None:
    assert flatten_context({"step.kind": "opinion"})["step.kind"] == "opinion"


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("nosuch > 1", "unknown variable 'nosuch'"),
        # a misspelt field of a declared root: refused as well, with the near name
        (
            "suggestion.levl == 'important'",
            "unknown variable 'suggestion.levl' (column 11; did you mean suggestion.level?)",
        ),
        ("step.iteration == 'two'", "no matching overload for '_==_' applied to '(int, string)'"),
        ("overdue_working_days > 1.5", "no matching overload"),
        ("step.iteration + 1", "expected a condition that gives true or false, this one gives int"),
        ("suggestion.level == 'important' &&", "Syntax error"),
        ("   ", "empty"),
    ],
)
def test_mistakes_are_refused_when_compiled_not_when_fired(source: str, fragment: str) -> None:
    with pytest.raises(ConditionError) as caught:
        compile_condition(source)
    assert fragment in str(caught.value)


def test_every_undeclared_reference_is_named() -> None:
    with pytest.raises(ConditionError) as caught:
        compile_condition("step.unti == 'x' || proposer.emial")
    assert "'step.unti'" in str(caught.value)
    assert "'proposer.emial'" in str(caught.value)


def test_a_context_with_an_undeclared_key_is_refused() -> None:
    condition = compile_condition("step.iteration > 1")
    with pytest.raises(ConditionError, match=r"undeclared variables: step\.iteraton"):
        condition.evaluate({"step": {"iteraton": 2}})
    with pytest.raises(ConditionError, match="undeclared variables: stage"):
        condition.evaluate({"stage": "research"})


@pytest.mark.parametrize(
    "context",
    [
        {"step": {"iteration": "2"}},  # a string for an int
        {"step": {"iteration": True}},  # a bool is an int in Python, not in the rules
        {"step": {"optional": 1}},
    ],
)
def test_a_context_value_of_the_wrong_type_is_refused(context: dict[str, object]) -> None:
    with pytest.raises(ConditionError, match="expected"):
        compile_condition("step.iteration > 1 && !step.optional").evaluate(context)


class _Rule(BaseModel):
    condition: Condition | None = None


def test_a_condition_field_compiles_while_the_model_validates_and_dumps_as_its_source() -> None:
    rule = _Rule.model_validate({"condition": "  suggestion.instructed  "})
    assert rule.condition == Condition("suggestion.instructed")
    assert hash(rule.condition) == hash(Condition("suggestion.instructed"))
    assert rule.model_dump() == {"condition": "suggestion.instructed"}
    assert _Rule.model_validate({"condition": rule.condition}).condition is rule.condition


def test_a_bad_condition_field_is_one_error_naming_the_variable() -> None:
    with pytest.raises(ValidationError) as caught:
        _Rule.model_validate({"condition": "suggestion.campain != ''"})
    errors = caught.value.errors()
    assert len(errors) == 1
    assert errors[0]["loc"] == ("condition",)
    assert "did you mean suggestion.campaign?" in errors[0]["msg"]
    with pytest.raises(ValidationError, match="expected a CEL expression as text, got 5"):
        _Rule.model_validate({"condition": 5})
