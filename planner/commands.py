"""``foreman plan``: one plan for a goal, with the model's raw text, latency and tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from foreman.envs import AgentMemory, make_env
from foreman.errors import ForemanError
from foreman.planner.builtin import PlannerOptions, planner_from
from foreman.planner.llm import PlanRequest
from foreman.planner.plan import format_plan, vocabulary_specs


@dataclass(frozen=True)
class PlanConfig:
    goal: str | None = field(default=None, metadata={"positional": True})
    """the goal in words (default: the env's own mission)"""
    env: str | None = None
    """describe this env's first observation to the planner"""
    seed: int = 0
    planner: PlannerOptions = field(default_factory=PlannerOptions)


def plan(config: PlanConfig) -> dict[str, Any]:
    observation, goal = "", config.goal
    if config.env:
        obs, _ = make_env(config.env, seed=config.seed).reset()
        memory = AgentMemory()
        memory.observe(obs)
        observation = memory.describe()
        goal = obs["mission"] if goal is None else goal
    if goal is None:
        raise ForemanError("give a GOAL, or --env to plan that env's own mission")
    specs = vocabulary_specs()
    result = planner_from(config.planner).plan(PlanRequest(goal=goal, skills=specs, observation=observation))
    return {
        "goal": goal,
        "env_id": config.env,
        "seed": config.seed if config.env else None,
        "ok": result.plan is not None,
        "plan_text": format_plan(result.plan, specs) if result.plan else None,
        "latency_s": result.latency_s,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        **result.model_dump(mode="json"),
    }


def plan_text(record: dict[str, Any]) -> str:
    if record["refusal"]:
        return f"Refused: {record['refusal']}"
    if record["plan_text"] is None:
        return f"No plan: {record['failure']}"
    return (
        f"Goal: {record['goal']}\n{record['plan_text']}\n({record['latency_s']:.2f} s, {record['prompt_tokens']} "
        f"prompt + {record['completion_tokens']} completion tokens, {len(record['attempts'])} attempt(s))"
    )
