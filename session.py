"""``foreman run``: the agent pursues a goal in a world, and the trace records every decision."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from foreman.envs import make_env
from foreman.orchestrator import Agent, EpisodeResult, describe_result
from foreman.paths import user_path
from foreman.planner.builtin import PlannerOptions, planner_from
from foreman.skills import SkillLibrary
from foreman.traces import TraceWriter, read_trace
from foreman.traces.replay import replay, write_gif


@dataclass(frozen=True)
class RunConfig:
    goal: str | None = field(default=None, metadata={"positional": True})
    """the goal in words (default: the env's own mission)"""
    env: str | None = None
    """the world (default: a level whose mission is GOAL; GoToLocal without a GOAL)"""
    seed: int = 0
    """the world's seed (without --env: the first seed searched)"""
    planner: PlannerOptions = field(default_factory=PlannerOptions)
    library: Path | None = None
    """a skill library folder to use instead of the built-in one"""
    trace: Path | None = None
    """trace file (default: runs/run/<time>_<env>_<seed>.jsonl in the user's foreman folder)"""
    gif: Path | None = None
    """write the episode as an animated GIF here"""


def run(config: RunConfig) -> EpisodeResult:
    env_id, seed = config.env, config.seed
    if env_id is None and config.goal is not None:
        from foreman.envs.levels import find_level

        env_id, seed = find_level(config.goal, first_seed=seed)
        print(f"Running the goal in {env_id}, seed {seed}, whose mission it is.", file=sys.stderr)
    env_id = env_id or "BabyAI-GoToLocal-v0"
    env = make_env(env_id)
    trace_path = config.trace or user_path("runs", "run") / f"{time.strftime('%Y%m%d-%H%M%S')}_{env_id}_{seed}.jsonl"
    library = SkillLibrary(config.library) if config.library else SkillLibrary()
    agent = Agent(planner_from(config.planner), library)
    with TraceWriter(trace_path) as trace:
        result = agent.run(env, goal=config.goal, seed=seed, trace=trace)
    if config.gif:
        episode = [e for e in read_trace(trace_path).events if e.episode == 0]
        write_gif(replay(episode, frames=True, every_step=True).frames, config.gif)
    return result.model_copy(update={"trace": str(trace_path)})


def run_text(result: EpisodeResult) -> str:
    return describe_result(result) + f"\nTrace: {result.trace}"
