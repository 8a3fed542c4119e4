"""What the lifecycle engine can honour of the rules, for the rules check to refuse what it cannot.

The stage map (``services/lifecycle/stages.SPECS``) is where these facts live in code; the rules may
not import the services, so they are stated here and a test holds the two equal
(tests/services/test_case_invariants.py). Change both together.
"""

from __future__ import annotations

from jianyi.models.enums import Role, StepKind

# Step kinds whose handler can take a lapse (``StepSpec.may_lapse``): an optional window left unused
# (an objection, an extension request) or a rating not given. Any other kind must be answered.
# A leader's instruction not given in time goes on as "no instruction" where a rule says so.
LAPSABLE_STEPS = frozenset(
    {StepKind.objection, StepKind.extension_request, StepKind.rating, StepKind.leader_instruction}
)

# Step kinds an extension request moves: the lead unit's ``extension_request`` asks for more time
# for its open opinion, once per referral, and the handling office decides (``extension_decision``).
EXTENDABLE_STEPS = frozenset({StepKind.opinion})
EXTENSION_APPROVER = Role.office
EXTENSIONS_PER_STEP = 1
