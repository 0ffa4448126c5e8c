"""The planner floor: goal text + what the agent knows + skill cards -> a validated plan.

Stands on ``foreman.envs`` only; skills are seen through their cards (data).
"""

from typing import Protocol

from foreman.planner.llama_chat import LlamaCppChat
from foreman.planner.llm import (
    LLMPlanner,
    PlanAttempt,
    PlannerPrompts,
    PlanRequest,
    PlanResult,
    SubgoalOutcome,
)
from foreman.planner.plan import (
    PlanParser,
    SkillSpec,
    format_plan,
    parse_plan,
    plan_grammar,
    skill_specs,
    vocabulary_specs,
)
from foreman.planner.reference import PrivilegedReferencePlanner
from foreman.planner.weights import QWEN_CODER_0_5B, QWEN_CODER_1_5B, ModelUnavailableError, model_path


class Planner(Protocol):
    """Anything that turns a request into a plan (or a recorded failure)."""

    def plan(self, request: PlanRequest) -> PlanResult: ...


__all__ = [
    "LLMPlanner",
    "LlamaCppChat",
    "ModelUnavailableError",
    "PlanAttempt",
    "PlanParser",
    "PlanRequest",
    "PlanResult",
    "Planner",
    "PlannerPrompts",
    "PrivilegedReferencePlanner",
    "QWEN_CODER_0_5B",
    "QWEN_CODER_1_5B",
    "SkillSpec",
    "SubgoalOutcome",
    "format_plan",
    "model_path",
    "parse_plan",
    "plan_grammar",
    "skill_specs",
    "vocabulary_specs",
]
