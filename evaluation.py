"""The whole agent on many episodes: ``foreman eval`` (and ``foreman bench agent``, which keeps its summaries).

An eval runs episodes (seeds S..S+N-1 of one level, or the lines of a goals file), writes one
JSON line per finished episode to ``episodes.jsonl`` and every decision to ``trace.jsonl`` in its
run folder, and summarises per level: success with a Wilson 95% interval, env steps, LLM calls,
tokens, replans, wall time, failures by skill and cause. ``resume`` skips the episodes already in
``episodes.jsonl``, so a killed eval loses at most the episodes in flight.

``workers`` > 1 runs episodes in that many local processes, ``ray_address`` on actors of a Ray
cluster (``foreman.workers``). Every episode's randomness is seeded from its own spec, so the rows
are the same for any number of workers; they are written as episodes finish, the summary sorts
them by episode, and ``workers.json`` in the run folder says where each worker ran and its peak
resident memory.

Ablations, labelled in every summary: ``planner="reference"`` (privileged: reads the env's
instruction tree), ``skills="bot"`` (privileged: the BabyAI bot executes each subgoal), and
``baseline="bot"`` (the bot alone on the mission, the upper bound). ``fault_rate`` makes a skill
act at random for a whole subgoal with that probability, to measure recovery by replanning.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal

from tqdm import tqdm

from foreman.envs import make_env
from foreman.envs.balrog_levels import TASKS as BALROG_TASKS
from foreman.envs.classics import CLASSICS
from foreman.errors import ForemanError
from foreman.orchestrator import Agent, AgentConfig, EpisodeResult
from foreman.paths import user_path
from foreman.planner import PrivilegedReferencePlanner
from foreman.planner.builtin import DEFAULT_ADAPTER, ModelName, builtin_planner
from foreman.planner.tuning.adapter import load_card
from foreman.skills import SkillLibrary
from foreman.traces import TraceBuffer, TraceSink, TraceWriter
from foreman.workers import Pool, WorkersDied


@dataclass(frozen=True)
class EvalConfig:
    env_id: str = field(default="BabyAI-GoToLocal-v0", metadata={"flags": ("--level", "--env")})
    """the level whose seeds are played"""
    episodes: int = 100
    """episodes (with --suite: per task kind)"""
    seed: int = 2_000_000
    """the first episode's seed (held out from every training seed)"""
    goals: Path | None = None
    """a JSON-lines file of episodes {"env_id", "seed", "goal"}; replaces --env, --episodes, --seed"""
    suite: Literal["balrog-babyai", "minigrid-classics"] | None = None
    """a benchmark suite instead of one level: --episodes per task kind (BALROG's BabyAI) or per
    task (MiniGrid's classic hard tasks, from their own missions) from --seed"""
    split: Literal["train", "test"] = "train"
    """the suite's split (test: GLAM's, whose missions name only held-out colour/type pairs)"""
    setting: Literal["balrog", "glam"] = "balrog"
    """the suite's setting: balrog (BALROG's config today: no distractors) or glam (8 distractors, as
    in GLAM and in BALROG before 2024-12-10); both use the levels' own step limits"""
    planner: Literal["llm", "base", "saycan", "openai", "reference"] = "llm"
    """llm: the fine-tuned default; base: the untuned --model (few-shot); saycan: the fine-tuned
    model scoring candidate calls times the skills' affordances; openai: the model behind --server;
    reference: privileged (reads the env's instruction tree), an ablation"""
    skills: Literal["learned", "bot"] = "learned"
    """bot: the BabyAI bot executes each subgoal (privileged ablation)"""
    baseline: Literal["bot"] | None = None
    """the bot alone on the mission (the privileged upper bound)"""
    model: ModelName = "qwen2.5-coder-1.5b-instruct-q4_k_m"
    """the packaged model of --planner base"""
    adapter: Path = DEFAULT_ADAPTER
    """the LoRA adapter of --planner llm and saycan (default: the shipped one)"""
    server: str | None = None
    """an OpenAI-compatible server's base URL for --planner openai"""
    server_model: str = "local"
    """the model to ask that server for"""
    max_replans: int = AgentConfig.max_replans
    """0 turns replanning off"""
    fault_rate: float = 0.0
    """a subgoal is acted out at random with this probability (injected faults)"""
    out: Path | None = None
    """run folder (default: runs/eval/<a name made from this config> in the user's foreman folder)"""
    resume: bool = False
    """continue an interrupted eval in its run folder (with any number of workers)"""
    workers: int = 1
    """episodes run in this many worker processes (on a Ray cluster: actors), each with its own agent"""
    ray_address: str | None = None
    """run the workers as actors on a Ray cluster: auto, HOST:PORT, or local (a Ray instance started for
    this run); needs foreman[ray]"""
    threads: int | None = None
    """torch and llama.cpp threads per worker (default: this machine's cores / --workers; 1 on Ray)"""
    trace: Path | None = None
    """trace file (default: trace.jsonl in the run folder)"""

    @property
    def label(self) -> str:
        if self.baseline:
            return "bot alone (privileged upper bound)"
        planner = {
            "llm": "llm (fine-tuned, "
            + ("built-in adapter)" if self.adapter == DEFAULT_ADAPTER else f"adapter {self.adapter})"),
            "base": f"base ({self.model}, untuned, few-shot)",
            "openai": f"openai ({self.server_model} at {self.server})",
            "saycan": "saycan (fine-tuned model's scores x affordances)",
            "reference": "reference (privileged)",
        }[self.planner]
        skills = "learned" if self.skills == "learned" else "bot (privileged)"
        extras = [f"replans<={self.max_replans}"] + ([f"faults {self.fault_rate:.0%}"] if self.fault_rate else [])
        return f"planner {planner}, skills {skills}, " + ", ".join(extras)

    def folder(self) -> Path:
        if self.out is not None:
            return self.out
        if self.suite == "minigrid-classics":
            source = f"{self.suite}_s{self.seed}_n{self.episodes}"
        elif self.suite:
            source = f"{self.suite}-{self.split}-{self.setting}_s{self.seed}_n{self.episodes}"
        elif self.goals:
            source = f"goals-{self.goals.stem}"
        else:
            source = f"{self.env_id}_s{self.seed}_n{self.episodes}"
        kind = f"baseline-{self.baseline}" if self.baseline else f"{self.planner}-{self.skills}"
        if self.adapter != DEFAULT_ADAPTER and self.planner in ("llm", "saycan"):
            kind += f"-{self.adapter.name}"
        extras = f"_r{self.max_replans}" + (f"_f{self.fault_rate}" if self.fault_rate else "")
        return user_path("runs", "eval") / f"{source}_{kind}{extras}"


@dataclass(frozen=True)
class EpisodeSpec:
    env_id: str
    seed: int
    goal: str | None = None
    task: str | None = None
    """a task kind the level takes as its ``task`` argument (the BALROG suite's)"""
    setting: str | None = None
    """the level's ``setting`` argument (the BALROG suite's)"""

    @property
    def options(self) -> dict[str, str]:
        """What ``make_env`` takes besides the id."""
        return {k: v for k, v in (("task", self.task), ("setting", self.setting)) if v}

    @property
    def group(self) -> str:
        return f"{self.env_id}:{self.task}" if self.task else self.env_id


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


class GoalsFileError(ForemanError):
    """A goals file that is missing or has a line that is not {"env_id", "seed", "goal"}."""


def episode_specs(config: EvalConfig) -> list[EpisodeSpec]:
    if config.suite == "balrog-babyai":
        env_id = f"Foreman-Mixed{config.split.title()}Local-v0"
        seeds = range(config.seed, config.seed + config.episodes)
        return [EpisodeSpec(env_id, seed, task=task, setting=config.setting) for task in BALROG_TASKS for seed in seeds]
    if config.suite == "minigrid-classics":
        seeds = range(config.seed, config.seed + config.episodes)
        return [EpisodeSpec(env_id, seed) for env_id in CLASSICS for seed in seeds]
    if config.goals is None:
        make_env(config.env_id)  # an unknown id fails here, before the model loads
        return [EpisodeSpec(config.env_id, s) for s in range(config.seed, config.seed + config.episodes)]
    try:
        lines = Path(config.goals).read_text().splitlines()
    except OSError as error:
        raise GoalsFileError(f"cannot read goals file {config.goals}: {error.strerror}") from None
    specs = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            specs.append(EpisodeSpec(str(row["env_id"]), int(row["seed"]), row.get("goal")))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise GoalsFileError(
                f'{config.goals}:{number}: expected {{"env_id", "seed", "goal"}}, got {line[:80]!r} ({error})'
            ) from None
    for spec in {s.env_id for s in specs}:
        make_env(spec)  # unknown ids fail before anything runs
    return specs


class _FaultySkill:
    """Wraps a skill; with probability ``rate`` a subgoal is acted out at random (injected fault)."""

    def __init__(self, skill, rate: float, rng: random.Random):
        self.skill, self.rate, self.rng = skill, rate, rng
        self.name, self.identity = skill.name, f"{skill.identity} with {rate:.0%} injected faults"
        self._faulty = False

    def reset(self) -> None:
        self.skill.reset()
        self._faulty = self.rng.random() < self.rate

    def act(self, memory, subgoal) -> int:
        return self.rng.randrange(6) if self._faulty else self.skill.act(memory, subgoal)

    def value(self, memory, subgoal):
        return self.skill.value(memory, subgoal)


def _row(index: int, spec: EpisodeSpec, result: EpisodeResult) -> dict:
    return {
        "index": index,
        "group": spec.group,
        "env_id": spec.env_id,
        "seed": spec.seed,
        "goal": result.goal,
        "mission": result.mission,
        "success": result.success,
        "reward": result.reward,
        "end_reason": result.end_reason,
        "steps": result.steps,
        "llm_calls": result.llm_calls,
        "replans": result.replans,
        "prompt_tokens": sum(p.prompt_tokens for p in result.plans),
        "completion_tokens": sum(p.completion_tokens for p in result.plans),
        "wall_s": result.wall_s,
        "failures": [f"{r.skill}: {r.status}" for r in result.subgoals if r.status != "succeeded"],
    }


class EpisodeRunner:
    """A worker of an eval: builds the agent once, then runs episodes of any level, each to a row
    and its trace lines."""

    def __init__(self, config: EvalConfig):
        self.config = config
        self.library = SkillLibrary()
        self._planner = None
        self._agents: dict[str, Agent] = {}
        self.rng = random.Random(0)

    def _agent(self, env) -> Agent:
        config = self.config
        if config.planner == "reference":
            planner = PrivilegedReferencePlanner(env)
        else:
            if self._planner is None:
                self._planner = builtin_planner(
                    config.planner, config.model, config.adapter, config.server, config.server_model
                )
            planner = self._planner
        agent = Agent(planner, self.library, AgentConfig(max_replans=config.max_replans))
        if config.skills == "bot":
            from foreman.bench.oracle import BotSkill

            agent.skills = {kind: BotSkill(kind, env) for kind in agent.skills}
        if config.fault_rate:
            agent.skills = {k: _FaultySkill(s, config.fault_rate, self.rng) for k, s in agent.skills.items()}
        return agent

    def __call__(self, job: tuple[int, EpisodeSpec]) -> tuple[dict, list[str]]:
        trace = TraceBuffer()
        row = self.episode(*job, trace)
        return row, trace.lines

    def episode(self, index: int, spec: EpisodeSpec, trace: TraceSink) -> dict:
        env = make_env(spec.env_id, **spec.options)
        if self.config.baseline == "bot":
            from foreman.bench.oracle import bot_episode

            outcome = bot_episode(env, spec.seed)
            mission = env.unwrapped.mission
            row = {"index": index, "group": spec.group, "env_id": spec.env_id, "seed": spec.seed}
            row |= {"goal": mission, "mission": mission}
            return row | outcome | {"end_reason": "success" if outcome["success"] else "bot failed", "llm_calls": 0}
        self.rng.seed(spec.seed)
        result = self._agent(env).run(env, spec.goal, spec.seed, trace, index, goal_is_mission=True)
        return _row(index, spec, result)


def episode_rows(path: Path) -> list[dict]:
    """The rows of an eval's ``episodes.jsonl`` (none if it is missing), less a line cut short by a kill."""
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a kill: that episode runs again
    return rows


def planner_identity(config: EvalConfig) -> str:
    """What plans, without loading it: the adapter's weights hash for ``llm``, the model for ``base``."""
    if config.baseline or config.planner == "reference":
        return "none" if config.baseline else "reference"
    if config.planner == "base":
        return config.model
    if config.planner == "openai":
        return f"{config.server_model} at {config.server}"
    adapter = f"{config.adapter.name} sha256 {load_card(config.adapter).sha256}"
    return f"saycan {adapter}" if config.planner == "saycan" else adapter


def _config_record(config: EvalConfig) -> dict:
    """The config as stored in the run folder; a resumed eval must match it (a level's eval may grow:
    episode i is seed + i whatever the count; a suite's episodes are indexed per task, so not there)."""
    how = ("resume", "workers", "ray_address", "threads")  # how the run is done, not what it measures
    fields = {k: str(v) for k, v in asdict(config).items() if k not in how and (k != "episodes" or config.suite)}
    return {**fields, "planner_identity": planner_identity(config)}


def run(config: EvalConfig, progress: bool = True) -> list[dict]:
    """Run (or resume) an eval; returns one summary per level."""
    specs = episode_specs(config)
    folder = config.folder()
    folder.mkdir(parents=True, exist_ok=True)
    rows_path = folder / "episodes.jsonl"
    if not config.resume and rows_path.exists():
        raise ForemanError(f"{folder} already holds an eval: pass --resume to continue it, or --out elsewhere")
    record = _config_record(config)
    stored = folder / "config.json"
    if rows_path.exists() and (not stored.exists() or json.loads(stored.read_text()) != record):
        raise ForemanError(
            f"{folder} holds an eval run with another config or planner; resuming would mix them: use --out elsewhere"
        )
    stored.write_text(json.dumps(record, indent=1))
    rows = {r["index"]: r for r in episode_rows(rows_path)}
    pool = Pool(config.workers, config.ray_address, config.threads)
    jobs = {i: (i, specs[i]) for i in range(len(specs)) if i not in rows}
    with TraceWriter(config.trace or folder / "trace.jsonl") as trace, rows_path.open("a") as out:
        if out.tell() and not rows_path.read_bytes().endswith(b"\n"):
            out.write("\n")
        finished = pool.run(partial(EpisodeRunner, config), jobs)
        try:
            for index, (row, lines) in tqdm(
                finished, total=len(jobs), desc=config.label, unit="episode", disable=not progress
            ):
                trace.extend(lines)
                out.write(json.dumps(row) + "\n")
                out.flush()
                rows[index] = row
        except WorkersDied as error:
            raise ForemanError(f"{error}; every other episode is saved: run again with --resume to finish") from None
        finally:
            reports = [asdict(r) for r in pool.reports]
            (folder / "workers.json").write_text(json.dumps(reports, indent=1))
    summaries = summarise([rows[i] for i in sorted(rows)], config)
    (folder / "summary.json").write_text(json.dumps(summaries, indent=1))
    return summaries


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def summarise(rows: list[dict], config: EvalConfig) -> list[dict]:
    summaries = []
    for group in dict.fromkeys(r["group"] for r in rows):
        level = [r for r in rows if r["group"] == group]
        successes = sum(r["success"] for r in level)
        failures: dict[str, int] = {}
        for r in level:
            for cause in r.get("failures", []):
                failures[cause] = failures.get(cause, 0) + 1
        summaries.append(
            {
                "level": group,
                "agent": config.label,
                "episodes": len(level),
                "seeds": [min(r["seed"] for r in level), max(r["seed"] for r in level)],
                "success_rate": successes / len(level),
                "success_ci": wilson(successes, len(level)),
                "mean_steps": statistics.fmean(r["steps"] for r in level),
                "p95_steps": _p95([r["steps"] for r in level]),
                "median_llm_calls": statistics.median(r.get("llm_calls", 0) for r in level),
                "p95_llm_calls": _p95([r.get("llm_calls", 0) for r in level]),
                "mean_prompt_tokens": statistics.fmean(r.get("prompt_tokens", 0) for r in level),
                "mean_completion_tokens": statistics.fmean(r.get("completion_tokens", 0) for r in level),
                "mean_replans": statistics.fmean(r.get("replans", 0) for r in level),
                "median_wall_s": statistics.median(r.get("wall_s", 0.0) for r in level),
                "end_reasons": {k: sum(r["end_reason"] == k for r in level) for k in {r["end_reason"] for r in level}},
                "failures": dict(sorted(failures.items(), key=lambda kv: -kv[1])),
                "per_episode": level,
            }
        )
    if config.suite and len(summaries) > 1:
        overall = statistics.fmean(s["success_rate"] for s in summaries)
        split = "" if config.suite == "minigrid-classics" else f" ({config.split}, {config.setting})"
        summaries.append(
            {
                "level": f"{config.suite}{split} overall",
                "agent": config.label,
                "episodes": sum(s["episodes"] for s in summaries),
                "success_rate": overall,
                "success_ci": wilson(sum(r["success"] for r in rows), len(rows)),
                "mean_steps": statistics.fmean(r["steps"] for r in rows),
                "median_llm_calls": statistics.median(r.get("llm_calls", 0) for r in rows),
                "mean_llm_calls": statistics.fmean(r.get("llm_calls", 0) for r in rows),
                "mean_prompt_tokens": statistics.fmean(r.get("prompt_tokens", 0) for r in rows),
                "median_wall_s": statistics.median(r.get("wall_s", 0.0) for r in rows),
                "note": "success is the mean over task kinds, as BALROG scores; the interval pools all episodes",
            }
        )
    return summaries


def evaluate(config: EvalConfig) -> list[dict]:
    """``foreman eval``: run (or resume) the episodes; one summary per level (or task kind)."""
    return run(config)


def evaluate_text(summaries: list[dict]) -> str:
    return table(summaries) + "\n(episodes, trace and summary are in the run folder)"


def table(summaries: list[dict]) -> str:
    lines = [
        "| level | agent | episodes | success | 95% CI | mean steps | median LLM calls | prompt tok | median s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        low, high = s["success_ci"]
        lines.append(
            f"| {s['level']} | {s['agent']} | {s['episodes']} | {s['success_rate']:.1%} | {low:.1%}-{high:.1%} | "
            f"{s['mean_steps']:.1f} | {s['median_llm_calls']:.0f} | {s['mean_prompt_tokens']:.0f} | "
            f"{s['median_wall_s']:.2f} |"
        )
    return "\n".join(lines)
