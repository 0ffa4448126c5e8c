"""``foreman run``: the agent pursues tasks in a world, one after another, and the trace records
every decision.

Tasks come from the command line (``foreman run "task 1" "task 2" --env ID --seed S``) or, with
``--interactive``, from standard input, a task a line until it ends (Ctrl-D at a terminal).
The world and the agent's memory carry over from one task to the next; one trace file holds
the session, a task an episode.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, computed_field

from foreman.envs import make_env
from foreman.orchestrator import Agent, EpisodeResult, describe_result
from foreman.paths import user_path
from foreman.planner.builtin import PlannerOptions, planner_from
from foreman.skills import SkillLibrary
from foreman.skills.library import BUILT_IN_LIBRARY
from foreman.traces import TraceWriter, read_trace
from foreman.traces.file import episodes
from foreman.traces.replay import replay, session_of, write_gif


@dataclass(frozen=True)
class RunConfig:
    goals: list[str] = field(default_factory=list, metadata={"positional": True})
    """the tasks in words, pursued one after another in the same world (default: the world's
    own mission)"""
    env: str | None = None
    """the world (default: a level whose mission is the one task given; GoToLocal otherwise)"""
    seed: int = 0
    """the world's seed (without --env: the first seed searched)"""
    interactive: bool = field(default=False, metadata={"flags": ("-i", "--interactive")})
    """read the tasks from standard input, one a line, after any given: type a task, watch its
    plan and outcome, type the next; Ctrl-D (the input's end) ends the session"""
    planner: PlannerOptions = field(default_factory=PlannerOptions)
    library: Path | None = None
    """a folder of your own skills, used beside the built-in ones (a skill there replaces the
    built-in one of its name)"""
    trace: Path | None = None
    """trace file (default: runs/run/<time>_<env>_<seed>.jsonl in the user's foreman folder)"""
    gif: Path | None = None
    """write the last task as an animated GIF here"""


class SessionResult(BaseModel):
    """The tasks of a session, in order, and where its trace is."""

    tasks: list[EpisodeResult]
    trace: str
    shown: bool = False
    """whether each task was already shown as it ended (interactive sessions)"""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def success(self) -> bool:
        """Whether every task was done (an empty session did nothing wrong)."""
        return all(t.success for t in self.tasks)


def _typed_tasks(stream: Iterable[str]) -> Iterator[str]:
    if sys.stdin.isatty():
        print("Type a task and press Enter; Ctrl-D ends the session.", file=sys.stderr)
    for line in stream:
        if line.strip():
            yield line.strip()


def run(config: RunConfig) -> SessionResult:
    env_id, seed = config.env, config.seed
    if env_id is None and len(config.goals) == 1:
        from foreman.envs.levels import find_level

        env_id, seed = find_level(config.goals[0], first_seed=seed)
        print(f"Running the goal in {env_id}, seed {seed}, whose mission it is.", file=sys.stderr)
    env_id = env_id or "BabyAI-GoToLocal-v0"
    env = make_env(env_id)
    trace_path = config.trace or user_path("runs", "run") / f"{time.strftime('%Y%m%d-%H%M%S')}_{env_id}_{seed}.jsonl"
    library = SkillLibrary(BUILT_IN_LIBRARY, *([config.library] if config.library else []))
    agent = Agent(planner_from(config.planner), library)
    goals: Iterable[str | None] = config.goals or ([] if config.interactive else [None])
    results = []
    with TraceWriter(trace_path) as trace:
        session = agent.session(env, seed, trace)
        if config.interactive:
            print(f"World: {env_id}, seed {seed}; its own mission: {session.mission}", file=sys.stderr)
        for goal in [*goals, *(_typed_tasks(sys.stdin) if config.interactive else [])]:
            results.append(session.do(goal))
            if config.interactive:
                print(describe_result(results[-1]), flush=True)
    if config.gif and results:
        grouped = episodes(read_trace(trace_path).events)
        last = max(grouped)
        write_gif(
            replay(grouped[last], frames=True, every_step=True, before=session_of(grouped, last)).frames, config.gif
        )
    return SessionResult(tasks=results, trace=str(trace_path), shown=config.interactive)


def run_text(result: SessionResult) -> str:
    lines = [] if result.shown else [describe_result(t) for t in result.tasks]
    if len(result.tasks) > 1:
        done = sum(t.success for t in result.tasks)
        lines.append(f"{done} of {len(result.tasks)} tasks done.")
    return "\n\n".join([*lines, f"Trace: {result.trace}"])
