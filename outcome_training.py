"""``foreman finetune outcomes``: reinforce the planner from what its plans achieve in the world.

The planner floor's ``planner/tuning/outcomes.py`` samples, scores and trains; it needs plans
executed, which only the orchestrator can do, so the rollout that executes them lives here, on
the floor that ties the planner to the skills.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

from foreman.envs import Subgoal, make_env
from foreman.orchestrator import Agent, AgentConfig
from foreman.paths import user_path
from foreman.planner.builtin import DEFAULT_ADAPTER
from foreman.planner.fixed import FixedPlanner
from foreman.planner.llm import PlanRequest
from foreman.planner.tuning.outcomes import OutcomeConfig, train_outcomes
from foreman.planner.tuning.sft import SFTConfig
from foreman.skills import SkillLibrary


@dataclass(frozen=True)
class OutcomesCommand:
    outcomes: OutcomeConfig = field(default_factory=OutcomeConfig)
    lr: float = 2e-4
    """the LoRA learning rate"""
    adapter: Path = DEFAULT_ADAPTER
    """the adapter to improve (default: the shipped one)"""
    out: Path = field(default_factory=lambda: user_path("finetune", "outcomes"))
    """run folder: scored goals, checkpoint, and the new adapter (plan with it: --adapter OUT)"""
    scored: Path | None = None
    """goals.jsonl of an earlier run: keep its goals and plans"""


class Rollouts:
    """Executes plans with the learned skills: the plans in turn, one per replan request."""

    def __init__(self) -> None:
        self.agent = Agent(FixedPlanner([]), SkillLibrary())
        self.envs: dict[str, gym.Env] = {}

    def __call__(
        self, env_id: str, seed: int, goal: str, plans: list[list[Subgoal]]
    ) -> tuple[bool, PlanRequest | None]:
        planner = FixedPlanner(plans[0], plans[1:])
        self.agent.planner, self.agent.config = planner, AgentConfig(max_replans=len(plans))
        env = self.envs.setdefault(env_id, make_env(env_id))
        return self.agent.run(env, goal=goal, seed=seed, goal_is_mission=True).success, planner.unanswered


def finetune_outcomes(config: OutcomesCommand) -> dict[str, Any]:
    sft = SFTConfig(lr=config.lr, out=config.out)
    card = train_outcomes(config.outcomes, sft, config.adapter, Rollouts(), scored=config.scored)
    return {"out": str(config.out), **card.model_dump(mode="json")}


def outcomes_text(record: dict[str, Any]) -> str:
    outcomes = record["data"]["outcomes"]
    return (
        f"{outcomes['goals']} reworded goals: greedy plan succeeded {outcomes['greedy_success']:.1%}, some sampled "
        f"plan {outcomes['any_success']:.1%}; trained on {outcomes['examples']} examples (final loss "
        f"{record['training']['final_loss']:.3f}); plan with it: --adapter {record['out']}"
    )
