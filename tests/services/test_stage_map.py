"""The stage map's table: one complete, consistent spec per step kind, and one key formula."""

from __future__ import annotations

import typing

import pytest

from jianyi.models.enums import Role, StepKind
from jianyi.models.step_inputs import StepInput
from jianyi.services.lifecycle import stages
from jianyi.services.lifecycle.specs import CaseInvariantError, step_key


def test_every_step_kind_has_one_spec_with_a_chinese_label() -> None:
    assert set(stages.SPECS) == set(StepKind)
    labels = [spec.label for spec in stages.SPECS.values()]
    assert len(set(labels)) == len(labels)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in label) for label in labels)


@pytest.mark.parametrize("kind", list(StepKind))
def test_each_handler_is_typed_on_its_specs_input(kind: StepKind) -> None:
    spec = stages.SPECS[kind]
    hints = typing.get_type_hints(spec.on_complete, vars(stages))
    assert hints["data"] is spec.input and issubclass(spec.input, StepInput)
    if spec.check is not None:
        assert typing.get_type_hints(spec.check)["data"] is spec.input


def test_only_windows_the_rating_and_the_leaders_instruction_may_lapse() -> None:
    lapsable = {kind for kind, spec in stages.SPECS.items() if spec.may_lapse}
    # A leader's instruction not given in time goes on as "no instruction" (issue 17).
    assert lapsable == {
        StepKind.objection,
        StepKind.extension_request,
        StepKind.rating,
        StepKind.leader_instruction,
    }
    assert {k for k, s in stages.SPECS.items() if s.office_may_lapse} == {StepKind.rating}
    assert stages.SPECS[StepKind.rating].owed_by is Role.proposer


def test_a_kind_that_cannot_lapse_refuses_a_lapse_instead_of_applying_nothing() -> None:
    class Lapsed:
        input = None
        kind = StepKind.opinion
        id = 7

    with pytest.raises(CaseInvariantError, match="opinion step cannot lapse"):
        stages.SPECS[StepKind.opinion].apply(case=None, step=Lapsed())  # type: ignore[arg-type]


def test_step_keys() -> None:
    assert step_key(StepKind.triage) == "triage"
    assert step_key(StepKind.objection, assignment_id=4) == "objection:a4"
    assert step_key(StepKind.opinion, assignment_id=4, round=2) == "opinion:a4:2"
    assert step_key(StepKind.review, round=3) == "review:3"
    assert step_key(StepKind.supervision_order, timer_id=9) == "supervision_order:t9"
