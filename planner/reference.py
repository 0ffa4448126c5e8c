"""A privileged baseline for ablations: the plan read off the env's own instruction tree.

It reads ``env.unwrapped.instrs``, which the agent may not see, so it is never the default
planner. It isolates execution errors from planning errors: with it, every failure is a skill's.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from foreman.envs import clauses_in_order, from_babyai
from foreman.planner.llm import PlanRequest, PlanResult


class PrivilegedReferencePlanner:
    """Flattens the env's ``and`` / ``, then`` / ``after you`` tree into its clauses, in order.

    A replan drops the clauses the history reports as done and keeps the rest.
    """

    identity = "privileged-reference (reads the env's instruction tree)"

    def __init__(self, env: gym.Env):
        self.env = env

    def plan(self, request: PlanRequest) -> PlanResult:
        level: Any = self.env.unwrapped
        clauses = clauses_in_order(from_babyai(level.instrs))
        remaining = list(clauses)
        for outcome in request.history:
            if outcome.status == "succeeded" and outcome.subgoal in remaining:
                remaining.remove(outcome.subgoal)
        return PlanResult(
            plan=remaining,
            reason="replan" if request.history else "initial",
            template="privileged-reference",
        )
