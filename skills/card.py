"""A skill's model card: what it does, what it needs, how it was trained, how well it does.

Cards are data: the planner reads them (name, description, subgoal kind) without importing
anything from ``skills/``. A stored skill is a folder ``<name>/`` holding ``card.json`` and
``model.safetensors``; the card carries the sha256 of the weights, checked on load. A skill of a
new kind starts as a folder holding only its declaration, ``skill.json``, until it is trained.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from foreman.envs import SUBGOAL_KINDS, KindSpec

CARD_SCHEMA_VERSION = 1


class Evaluation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    env_id: str
    episodes: int
    seeds: tuple[int, int]  # first and last seed, inclusive
    success_rate: float = Field(ge=0, le=1)
    mean_steps: float


class CriticFit(BaseModel):
    """How the critic was fitted to the policy's own outcomes (``skills/critic.py``)."""

    model_config = ConfigDict(extra="forbid")

    episodes: int
    seeds: tuple[int, int]  # first and last, held-out episodes included
    states: int
    success_rate: float  # over the fitting episodes
    held_out_episodes: int
    brier: float  # of the value at the first step of each held-out episode
    brier_of_base_rate: float  # of always answering success_rate, for comparison
    mean_value_successes: float | None
    mean_value_failures: float | None


class Training(BaseModel):
    model_config = ConfigDict(extra="forbid")

    env_id: str
    config: dict[str, Any]  # the training config dataclass, as saved
    demos: int  # bot demonstrations used (0 for pure RL)
    dagger_episodes: int = 0  # episodes the policy drove while the bot labelled its states
    cloned_success_rate: float | None = None  # on 100 of the evaluation seeds, before DAgger
    frames: int  # env frames seen, demos included
    minutes: float  # wall-clock minutes on the training machine
    init: str | None = None  # the trained skill PPO started from (its card's training is its history)
    rl_frames: int = 0  # env frames of PPO
    rl_minutes: float = 0.0
    success_before_rl: float | None = None  # on the evaluation's seeds, with the weights PPO started from
    critic: CriticFit | None = None  # None: the critic was never fitted (its values mean nothing)


class SkillCard(BaseModel):
    """The JSON card stored beside a skill's weights."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = CARD_SCHEMA_VERSION
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: str
    description: str
    subgoal: str
    """the subgoal kind it executes: one of the mission language's, or the one ``kind`` declares"""
    kind: KindSpec | None = None
    """the declaration of a kind the mission language does not have: its arguments, wording and
    success check (``foreman.envs.kinds``)"""
    preconditions: list[str]
    effects: list[str]
    network: dict[str, Any]  # the constructor arguments of the policy network
    training: Training
    evaluation: Evaluation | None = None
    weights_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    def model_post_init(self, __context: Any) -> None:
        if self.kind is not None and self.kind.name != self.subgoal:
            raise ValueError(f"the card's subgoal is {self.subgoal!r}, but its kind declares {self.kind.name!r}")
        if self.kind is None and self.subgoal not in SUBGOAL_KINDS:
            raise ValueError(
                f"unknown subgoal kind {self.subgoal!r}: one of {SUBGOAL_KINDS}, or declare it under 'kind'"
            )
        if self.kind is not None and self.subgoal in SUBGOAL_KINDS:
            raise ValueError(f"{self.subgoal!r} is a kind of the mission language: it is not declared again")
        if self.schema_version != CARD_SCHEMA_VERSION:
            raise ValueError(
                f"card schema version {self.schema_version} is not {CARD_SCHEMA_VERSION}, the one this foreman reads"
            )


class SkillDeclaration(BaseModel):
    """What a user writes to make a skill of a new kind (``skill.json`` in its folder, made by
    ``foreman skills new``): the card's text, the kind, and where and how it learns.
    ``foreman train NAME --library DIR`` reads it and writes the card and weights beside it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str
    """what the skill does, for the planner (it reads this, not the code)"""
    kind: KindSpec
    preconditions: list[str] = Field(default_factory=list)
    effects: list[str] = Field(default_factory=list)
    level: dict[str, Any] = Field(default_factory=dict)
    """the training level's layout: ``SubgoalLevel``'s knobs (``room_size``, ``num_rows``,
    ``num_cols``, ``num_dists``, ``locations``, ``carry_prob``, ``open_door_prob``, ...)"""
    frames: int = Field(default=300_000, gt=0)
    """env frames of reinforcement from the kind's check (PPO)"""

    def model_post_init(self, __context: Any) -> None:
        if self.kind.name != self.name:
            raise ValueError(f"the skill is {self.name!r}, but its kind declares {self.kind.name!r}")


def declaration_template(name: str) -> SkillDeclaration:
    """A declaration to edit: one argument, a check of facing it, a one-room level."""
    return SkillDeclaration(
        name=name,
        description=f"Say what {name} does: the planner chooses skills by this text.",
        kind=KindSpec.model_validate(
            {
                "name": name,
                "says": f"{name.replace('_', ' ')} {{target}}",
                "arguments": [{"name": "target", "type": "object", "description": "what it acts on"}],
                "check": {"facing": "target"},
            }
        ),
        level={"num_rows": 1, "num_cols": 1, "num_dists": 4},
    )
