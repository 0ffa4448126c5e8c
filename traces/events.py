"""The trace format: JSON Lines, one event per line, each carrying the schema version.

An episode's events, in the order they happen::

    episode_start   env id, seed, goal, the env's mission, the task's place in its session,
                    config, planner and skill identities
    plan            initial or replan (and why), template, prompt hash, the user turn, raw model
                    text of every attempt with its parse error, the parsed plan, latency, tokens
    subgoal_start   skill, subgoal, the skill's value estimate, env step
    subgoal_end     status, reason, detector status, steps, the actions taken
    feedback        the words the planner is given about what happened
    ...             (plan / subgoal_start / subgoal_end / feedback repeat)
    episode_end     success, reward, steps, LLM calls, replans, wall time, end reason, the
                    check that judged the task, whether the world's mission got done

Every event names its ``episode`` (0, 1, ... within the trace file), so one file holds an eval,
or a session: its tasks are its episodes, in order.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TRACE_VERSION = 1


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    v: Literal[1] = 1  # TRACE_VERSION
    episode: int
    time: float
    """seconds since the epoch when the event was written"""


class EpisodeStart(_Event):
    event: Literal["episode_start"] = "episode_start"
    env_id: str
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    seed: int | None
    goal: str
    mission: str
    task: int = 0
    """the task's place in its session: a task after the first goes on in the world as the
    previous task (the previous episode of the file) left it, with no reset"""
    config: dict[str, Any]
    planner: str
    """the planner's identity: its kind and, for a language model, the weights' name and sha256"""
    skills: dict[str, str]
    """skill name -> sha256 of its weights"""


class Attempt(BaseModel):
    raw: str
    error: str | None = None
    latency_s: float
    prompt_tokens: int = 0
    completion_tokens: int = 0


class PlanMade(_Event):
    event: Literal["plan"] = "plan"
    reason: Literal["initial", "replan"]
    why: str = ""
    """for a replan: the feedback that prompted it"""
    template: str
    prompt_sha256: str = ""
    user_message: str = ""
    attempts: list[Attempt] = Field(default_factory=list)
    plan: list[str] | None
    """the subgoals as text, or None when planning failed or the goal was refused"""
    failure: str | None = None
    refusal: str | None = None
    """why the goal was refused: it asks for nothing the skills can do"""
    screen_s: float = 0.0
    """seconds the goal screen took"""
    latency_s: float
    prompt_tokens: int
    completion_tokens: int


class SubgoalStart(_Event):
    event: Literal["subgoal_start"] = "subgoal_start"
    index: int
    """position in the episode's sequence of executed subgoals"""
    plan_step: int
    """position in the plan it came from"""
    skill: str
    subgoal: str
    value: float | None = None
    """the skill's value estimate when it started (an affordance score)"""
    env_step: int


class SubgoalEnd(_Event):
    event: Literal["subgoal_end"] = "subgoal_end"
    index: int
    skill: str
    subgoal: str
    status: Literal["succeeded", "failed", "ran out of steps", "stopped"]
    reason: str = ""
    detector: Literal["success", "failure", "continue", "not run"]
    """the subgoal detector's last verdict; "not run" for a subgoal already done (see orchestrator)"""
    steps: int
    actions: list[int]


class Feedback(_Event):
    event: Literal["feedback"] = "feedback"
    text: str


class EpisodeEnd(_Event):
    event: Literal["episode_end"] = "episode_end"
    success: bool
    reward: float
    steps: int
    llm_calls: int
    replans: int
    wall_s: float
    end_reason: str
    check: Literal["env", "verifier", "plan"] | None = None
    """what judged the task done (None: it was not): the world's reward for its mission, when the
    goal is that mission; BabyAI's verifier for the goal; the plan's subgoals, each confirmed"""
    mission_done: bool = False
    """whether the world's own mission was completed during the task"""


Event = Annotated[
    EpisodeStart | PlanMade | SubgoalStart | SubgoalEnd | Feedback | EpisodeEnd, Field(discriminator="event")
]
EVENT_NAMES = ("episode_start", "plan", "subgoal_start", "subgoal_end", "feedback", "episode_end")
