"""A planner that returns plans it was given: executes plans as they are (scoring sampled plans)."""

from __future__ import annotations

from collections.abc import Sequence

from foreman.envs import Subgoal
from foreman.planner.llm import PlanRequest, PlanResult


class FixedPlanner:
    """The given plan first, then the given revisions one per replan request, in order; a replan
    request beyond them is a recorded failure, and the first such request is kept in ``unanswered``
    (what the planner would have been asked next)."""

    identity = "fixed plan (given, not generated)"

    def __init__(self, plan: list[Subgoal], revisions: Sequence[list[Subgoal]] = ()):
        self.steps = list(plan)
        self.revisions = [list(r) for r in revisions]
        self.replans = 0
        self.unanswered: PlanRequest | None = None

    def plan(self, request: PlanRequest) -> PlanResult:
        if not request.history:
            return PlanResult(plan=self.steps, reason="initial", template="fixed")
        if self.replans < len(self.revisions):
            self.replans += 1
            return PlanResult(plan=self.revisions[self.replans - 1], reason="replan", template="fixed")
        if self.unanswered is None:
            self.unanswered = request
        return PlanResult(plan=None, failure="a fixed plan is not revised", reason="replan", template="fixed")
