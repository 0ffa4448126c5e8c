"""``foreman bench tasks``: the agent on users' tasks, which differ from the world's mission.

For each world (a level at a held-out seed) a task is drawn by BabyAI's own instruction sampler
(``LevelGen.rand_instr`` and ``rand_obj``, over the objects of that world, with the level's kinds
of instruction), kept only when it is not the world's mission. Half of them (``--paraphrase``)
are worded by the packaged 1.5B model instead of in the mission language. The ground truth is a
BabyAI verifier built from the task by the bench, which watches every step the agent takes: not
the world's reward, not the agent's own checks. The same task is given to the BabyAI bot as its
``instrs`` in a copy of the world, for the steps it takes.

Also: sessions of several tasks in BossLevel worlds (every task must be achieved), and a set of
goals the agent must refuse (with no env step), beside the valid goals it must not refuse: the
agent bench's BossLevel missions and the hand-written paraphrases.

Rows are written as they come (``tasks.jsonl`` in the run folder), so a killed run resumes.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from minigrid.envs.babyai.core.levelgen import LevelGen
from minigrid.envs.babyai.core.roomgrid_level import RejectSampling, RoomGridLevel
from minigrid.envs.babyai.core.verifier import AfterInstr, AndInstr, BeforeInstr, OpenInstr, PutNextInstr
from minigrid.minigrid_env import MiniGridEnv
from minigrid.utils.baby_ai_bot import BabyAIBot

from foreman.arguments import command_line
from foreman.bench.results import artifacts, write_result
from foreman.envs import Instruction, current_pose, from_babyai, make_env
from foreman.envs.tasks import TaskVerifier, to_babyai
from foreman.evaluation import wilson
from foreman.orchestrator import Agent, EpisodeResult, Session
from foreman.paths import user_path
from foreman.planner.builtin import PlannerOptions, planner_from
from foreman.skills import SkillLibrary
from foreman.traces import TraceWriter

BENCH_DIR = Path(__file__).resolve().parent
MUST_REFUSE = BENCH_DIR / "must_refuse.jsonl"
PARAPHRASES = BENCH_DIR / "paraphrases.jsonl"

# what BabyAI's levels ask for: (action kinds, instruction kinds, locations in descriptions)
LEVEL_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...], bool]] = {
    "BabyAI-GoToLocal-v0": (("goto",), ("action",), False),
    "BabyAI-PickupLoc-v0": (("pickup",), ("action",), True),
    "BabyAI-PutNextLocal-v0": (("putnext",), ("action",), False),
    "BabyAI-SynthSeq-v0": (("goto", "pickup", "open", "putnext"), ("action", "and", "seq"), True),
    "BabyAI-BossLevel-v0": (("goto", "pickup", "open", "putnext"), ("action", "and", "seq"), True),
}


@dataclass(frozen=True)
class TasksBenchConfig:
    levels: list[str] = field(default_factory=lambda: list(LEVEL_KINDS))
    """the levels whose worlds the tasks are set in"""
    tasks: int = 200
    """tasks per level, one world (seed) each"""
    seed: int = 7_000_000
    """the first world's seed (held out from every training and tuning seed); each level takes the
    next --tasks seeds, the sessions the --sessions after them, so no two tasks share a world"""
    paraphrase: float = 0.5
    """the share of tasks worded by the packaged 1.5B model rather than in the mission language"""
    sessions: int = 100
    """sessions of --session-tasks tasks in BossLevel worlds"""
    session_tasks: int = 3
    """tasks per session"""
    refusals: bool = True
    """also measure refusals: the must-refuse goals, and the valid goals that must not be refused"""
    agent_bench_seed: int = 2_000_000
    """the first seed of the agent bench's 200 BossLevel missions (valid goals, must not be refused)"""
    planner: PlannerOptions = field(default_factory=PlannerOptions)
    out: Path | None = None
    """run folder for rows and traces (default: runs/bench/tasks_s<seed>_n<tasks> in the user's folder)"""
    results: Path = field(default_factory=lambda: user_path("bench"))
    """folder for the summary result file"""

    def folder(self) -> Path:
        return self.out or user_path("runs", "bench") / f"tasks_s{self.seed}_n{self.tasks}"


class _Sampler:
    """BabyAI's instruction sampler run over a world that need not be a ``LevelGen``, drawing from
    its own random generator so the world's stays as it was."""

    rand_obj = LevelGen.rand_obj
    rand_instr = LevelGen.rand_instr
    _rand_elem = MiniGridEnv._rand_elem
    _rand_bool = MiniGridEnv._rand_bool
    _rand_int = MiniGridEnv._rand_int

    def __init__(self, base: Any, rng: np.random.Generator, locations: bool):
        self.base, self.np_random, self.locations = base, rng, locations
        self.implicit_unlock = getattr(base, "implicit_unlock", True)
        self.locked_room = getattr(base, "locked_room", None)

    @property
    def unwrapped(self) -> Any:
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self.base, name)


def sample_task(env: gym.Env, level: str, rng: np.random.Generator, avoid: str, tries: int = 200) -> Instruction:
    """A task BabyAI's sampler draws for the world as it is now, other than ``avoid``."""
    actions, kinds, locations = LEVEL_KINDS[level]
    base: Any = env.unwrapped
    sampler = _Sampler(base, rng, locations)
    for _ in range(tries):
        try:
            instr = sampler.rand_instr(action_kinds=list(actions), instr_kinds=list(kinds))  # type: ignore[misc]
            RoomGridLevel.validate_instrs(base, instr)  # resolves the descriptions in this world
        except (RecursionError, RejectSampling):
            continue
        task = from_babyai(instr)
        if task.to_text() != avoid and not _moot(instr, base):
            return task
    raise RuntimeError(f"no task other than {avoid!r} in this {level} world after {tries} draws")


def _moot(instr: Any, base: Any) -> bool:
    """Whether a clause asks for what is already so or cannot be (a session's later task, in a
    world the earlier ones changed): every door it names open already, or the only object it
    names the one the agent carries. BabyAI's sampler rejects the like for a fresh world
    (objects already next to each other), which has no open doors and nothing carried."""
    if isinstance(instr, (AndInstr, BeforeInstr, AfterInstr)):
        return _moot(instr.instr_a, base) or _moot(instr.instr_b, base)
    instr.reset_verifier(base)
    if isinstance(instr, OpenInstr):
        return all(door.is_open for door in instr.desc.obj_set)
    named = instr.desc_fixed if isinstance(instr, PutNextInstr) else instr.desc
    return base.carrying is not None and all(obj is base.carrying for obj in named.obj_set)


class _Watched(gym.Wrapper):
    """The world, with the bench's ground-truth verifier stepped on every action the agent takes."""

    verifier: TaskVerifier | None = None
    steps = 0
    done_at: int | None = None
    """the task's step at which the verifier saw it done"""

    def watch(self, verifier: TaskVerifier) -> None:
        self.verifier, self.steps, self.done_at = verifier, 0, None

    def step(self, action):
        result = self.env.step(action)
        if self.verifier is not None:
            self.steps += 1
            if self.verifier.step(action) == "success" and self.done_at is None:
                self.done_at = self.steps
        return result


def bot_steps(level: str, seed: int, task: Instruction, limit: int = 1000) -> int | None:
    """The steps the BabyAI bot takes for ``task`` given as its ``instrs`` in the world ``seed``
    (fresh), or None if it does not achieve it."""
    env = make_env(level)
    env.reset(seed=seed)
    base: Any = env.unwrapped
    base.instrs = to_babyai(task)
    base.instrs.reset_verifier(base)
    judge = TaskVerifier(task, env, current_pose(env))
    bot, action = BabyAIBot(base), None
    for step in range(1, limit + 1):
        try:
            action = bot.replan(action)
        except (AssertionError, IndexError, KeyError, TypeError):
            return None
        env.step(action)
        if judge.step(action) == "success":
            return step
    return None


class _Wording:
    """Rewords a task with the packaged 1.5B model, keeping only rewordings that keep its meaning."""

    def __init__(self) -> None:
        from foreman.planner.tuning.rewording import default_rewriter

        self.rewriter = default_rewriter()

    def __call__(self, text: str, rng: random.Random, tries: int = 4) -> str | None:
        from foreman.planner.tuning.rewording import keeps_meaning, reword

        for _ in range(tries):
            goal = reword(text, self.rewriter, rng)
            if goal and goal.lower().rstrip(".") != text and keeps_meaning(text, goal):
                return goal
        return None


def _row(result: EpisodeResult, achieved: bool) -> dict[str, Any]:
    return {
        "success": achieved,
        "reported": result.success,
        "false_claim": result.success and not achieved,
        "check": result.check,
        "mission_done": result.mission_done,
        "end_reason": result.end_reason,
        "steps": result.steps,
        "llm_calls": result.llm_calls,
        "prompt_tokens": sum(p.prompt_tokens for p in result.plans),
        "completion_tokens": sum(p.completion_tokens for p in result.plans),
        "screen_s": sum(p.screen_s for p in result.plans),
        "wall_s": result.wall_s,
    }


def _pursue(session: Session, world: _Watched, task: Instruction, goal: str) -> dict[str, Any]:
    """The agent pursues ``goal`` (meaning ``task``) where the session's world is now."""
    world.watch(TaskVerifier(task, world, current_pose(world)))
    result = session.do(goal)
    return _row(result, world.done_at is not None) | {"done_at": world.done_at}


class _Rows:
    """A run folder's rows, appended as they come; those already there are not run again."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.done: dict[str, dict[str, Any]] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a kill: that row runs again
                self.done[row["key"]] = row

    def add(self, row: dict[str, Any]) -> dict[str, Any]:
        with self.path.open("a") as file:
            file.write(json.dumps(row) + "\n")
        self.done[row["key"]] = row
        return row


def _user_tasks(config: TasksBenchConfig, agent: Agent, rows: _Rows, trace: TraceWriter) -> None:
    wording: _Wording | None = None
    for number, level in enumerate(config.levels):
        first = config.seed + number * config.tasks
        for seed in range(first, first + config.tasks):
            key = f"task:{level}:{seed}"
            if key in rows.done:
                continue
            rng = np.random.default_rng(seed)
            world = _Watched(make_env(level))
            session = agent.session(world, seed, trace, episode=seed - config.seed)
            task = sample_task(world, level, rng, avoid=session.mission)
            text = task.to_text()
            goal, worded = text, "mission language"
            if random.Random(seed).random() < config.paraphrase:
                wording = wording or _Wording()
                reworded = wording(text, random.Random(seed))
                if reworded:
                    goal, worded = reworded, "paraphrase"
            row = {"key": key, "part": "task", "level": level, "seed": seed, "task": text, "goal": goal}
            row |= {"worded": worded, "mission": session.mission, "bot_steps": bot_steps(level, seed, task)}
            rows.add(row | _pursue(session, world, task, goal))


def _sessions(config: TasksBenchConfig, agent: Agent, rows: _Rows, trace: TraceWriter) -> None:
    level = "BabyAI-BossLevel-v0"
    first = config.seed + len(config.levels) * config.tasks
    for seed in range(first, first + config.sessions):
        key = f"session:{seed}"
        if key in rows.done:
            continue
        rng = np.random.default_rng(seed)
        world = _Watched(make_env(level))
        session = agent.session(world, seed, trace, episode=(seed - first) * config.session_tasks)
        done = []
        for _ in range(config.session_tasks):
            task = sample_task(world, level, rng, avoid=session.mission)
            done.append({"task": task.to_text()} | _pursue(session, world, task, task.to_text()))
        rows.add({"key": key, "part": "session", "level": level, "seed": seed, "tasks": done})


def _refusals(config: TasksBenchConfig, agent: Agent, rows: _Rows) -> None:
    for number, line in enumerate(MUST_REFUSE.read_text().splitlines()):
        key = f"refuse:{number}"
        if key in rows.done or not line.strip():
            continue
        case = json.loads(line)
        session = agent.session(make_env("BabyAI-GoToLocal-v0"), config.seed + number)
        result = session.do(case["goal"])
        refused = result.end_reason == "refused" and result.steps == 0
        rows.add({"key": key, "part": "must refuse", "goal": case["goal"], "category": case["category"]} | {
            "refused": refused, "steps": result.steps, "end_reason": result.end_reason,
            "reason": next((p.refusal for p in result.plans if p.refusal), None),
        })  # fmt: skip
    screen = getattr(agent.planner, "screen", None)
    env = make_env("BabyAI-BossLevel-v0")
    valid = [("boss mission", env.reset(seed=config.agent_bench_seed + i)[0]["mission"]) for i in range(200)]
    valid += [("paraphrase", json.loads(line)["goal"]) for line in PARAPHRASES.read_text().splitlines() if line]
    for number, (source, goal) in enumerate(valid):
        key = f"valid:{number}"
        if key in rows.done:
            continue
        reason = screen.refusal(goal, agent.specs) if screen is not None else None
        rows.add({"key": key, "part": "must not refuse", "source": source, "goal": goal, "refused": reason is not None})


def _rate(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    hits = sum(bool(r[key]) for r in rows)
    low, high = wilson(hits, len(rows)) if rows else (0.0, 0.0)
    return {"rate": hits / len(rows) if rows else 0.0, "count": hits, "of": len(rows), "ci95": [low, high]}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per level: ground-truth success, reported success, false claims, steps against the bot,
    LLM calls, tokens, time; then sessions and refusals."""
    tasks = [r for r in rows if r["part"] == "task"]
    levels: dict[str, Any] = {}
    for level in dict.fromkeys(r["level"] for r in tasks):
        mine = [r for r in tasks if r["level"] == level]
        both = [r for r in mine if r["success"] and r["bot_steps"]]
        ratios = [r["steps"] / r["bot_steps"] for r in both]
        levels[level] = {
            "tasks": len(mine),
            "paraphrased": sum(r["worded"] == "paraphrase" for r in mine),
            "success": _rate(mine, "success"),
            "success_paraphrased": _rate([r for r in mine if r["worded"] == "paraphrase"], "success"),
            "reported": _rate(mine, "reported"),
            "false_claims": sum(r["false_claim"] for r in mine),
            "steps_vs_bot": sum(r["steps"] for r in both) / max(1, sum(r["bot_steps"] for r in both)),
            "median_steps_vs_bot": statistics.median(ratios) if ratios else None,
            "steps_to_done_vs_bot": sum(r.get("done_at") or r["steps"] for r in both)
            / max(1, sum(r["bot_steps"] for r in both)),
            "achieved_unreported": sum(r["success"] and not r["reported"] for r in mine),
            "bot_failed": sum(r["bot_steps"] is None for r in mine),
            "median_llm_calls": statistics.median(r["llm_calls"] for r in mine),
            "mean_prompt_tokens": statistics.fmean(r["prompt_tokens"] for r in mine),
            "mean_completion_tokens": statistics.fmean(r["completion_tokens"] for r in mine),
            "median_wall_s": statistics.median(r["wall_s"] for r in mine),
            "end_reasons": {
                k: sum(r["end_reason"] == k for r in mine) for k in sorted({r["end_reason"] for r in mine})
            },
        }
    sessions = [r for r in rows if r["part"] == "session"]
    session_tasks = [t for r in sessions for t in r["tasks"]]
    must = [r for r in rows if r["part"] == "must refuse"]
    valid = [r for r in rows if r["part"] == "must not refuse"]
    return {
        "levels": levels,
        "tasks": len(tasks),
        "false_claims": sum(r["false_claim"] for r in tasks) + sum(t["false_claim"] for t in session_tasks),
        "sessions": {
            "sessions": len(sessions),
            "every_task_achieved": _rate([{"ok": all(t["success"] for t in r["tasks"])} for r in sessions], "ok"),
            "tasks_achieved": _rate(session_tasks, "success"),
        },
        "must_refuse": {
            **_rate(must, "refused"),
            "stepped": sum(r["steps"] > 0 for r in must),
            "by_category": {
                c: _rate([r for r in must if r["category"] == c], "refused")
                for c in dict.fromkeys(r["category"] for r in must)
            },
            "not_refused": [r["goal"] for r in must if not r["refused"]],
        },  # fmt: skip
        "must_not_refuse": {**_rate(valid, "refused"), "refused": [r["goal"] for r in valid if r["refused"]]},
    }


def bench_tasks(config: TasksBenchConfig) -> dict[str, Any]:
    """Run (or resume) every part, then write the summary as a result file."""
    folder = config.folder()
    rows = _Rows(folder / "tasks.jsonl")
    planner = planner_from(config.planner)
    agent = Agent(planner, SkillLibrary())
    started = time.perf_counter()
    if config.refusals:
        _refusals(config, agent, rows)
    with TraceWriter(folder / "tasks_trace.jsonl") as trace:
        _user_tasks(config, agent, rows, trace)
    with TraceWriter(folder / "sessions_trace.jsonl") as trace:
        _sessions(config, agent, rows, trace)
    summary = summarise(list(rows.done.values())) | {
        "planner": getattr(planner, "identity", ""),
        "config": {k: str(v) for k, v in asdict(config).items()},
        "wall_s_this_run": time.perf_counter() - started,
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=1))
    uses_adapter = config.planner.planner in ("llm", "saycan")
    write_result(
        config.results,
        "tasks",
        f"tasks_s{config.seed}_n{config.tasks}_sessions{config.sessions}",
        summary,
        command=command_line("bench tasks", config, omit=("out", "results")),
        seeds=[config.seed, config.seed + len(config.levels) * config.tasks + config.sessions - 1],
        artifacts=artifacts(config.planner.adapter if uses_adapter else None, SkillLibrary().cards()),
    )
    return summary


def table(summary: dict[str, Any]) -> str:
    lines = [
        "| level | tasks | success (95% CI) | paraphrased: success | reported | false claims | steps / bot "
        "(to done) | median LLM calls | median s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for level, s in summary["levels"].items():
        low, high = s["success"]["ci95"]
        lines.append(
            f"| {level} | {s['tasks']} | {s['success']['rate']:.1%} ({low:.1%}-{high:.1%}) | "
            f"{s['success_paraphrased']['rate']:.1%} of {s['paraphrased']} | {s['reported']['rate']:.1%} | "
            f"{s['false_claims']} | {s['steps_vs_bot']:.2f} ({s['steps_to_done_vs_bot']:.2f}) | "
            f"{s['median_llm_calls']:g} | {s['median_wall_s']:.1f} |"
        )
    sessions, must, valid = summary["sessions"], summary["must_refuse"], summary["must_not_refuse"]
    lines += [
        "",
        f"False claims: {summary['false_claims']} over {summary['tasks']} tasks and the sessions' tasks.",
        f"Sessions: {sessions['every_task_achieved']['count']} of {sessions['sessions']} with every task achieved.",
        f"Must refuse: {must['count']} of {must['of']} refused ({must['stepped']} took an env step).",
        f"Must not refuse: {valid['count']} of {valid['of']} refused.",
    ]
    return "\n".join(lines)
