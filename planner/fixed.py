"""A planner that returns a plan it was given: executes a plan as it is (scoring sampled plans)."""

from __future__ import annotations

from foreman.envs import Subgoal
from foreman.planner.llm import PlanRequest, PlanResult


class FixedPlanner:
    """The given plan first; a replan request is a recorded failure (the plan is not revised)."""

    identity = "fixed plan (given, not generated)"

    def __init__(self, plan: list[Subgoal]):
        self.steps = list(plan)

    def plan(self, request: PlanRequest) -> PlanResult:
        if request.history:
            return PlanResult(plan=None, failure="a fixed plan is not revised", reason="replan", template="fixed")
        return PlanResult(plan=self.steps, reason="initial", template="fixed")
