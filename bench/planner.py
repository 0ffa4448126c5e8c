"""Planner accuracy and cost on generated BabyAI missions.

Exact decomposition: the plan equals the mission's clauses in an order that satisfies it (the
two clauses of an ``and`` may come in either order). Seeds start at ``seed``; the prompt's
examples were written by hand, not drawn from any seed.
"""

from __future__ import annotations

import itertools
import json
import statistics
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from foreman.arguments import command_line
from foreman.bench.results import artifacts, write_result
from foreman.envs import After, And, Before, Instruction, arguments_of, make_env, parse_mission
from foreman.paths import user_path
from foreman.planner import LLMPlanner, PlanRequest, vocabulary_specs
from foreman.planner.builtin import DEFAULT_ADAPTER, ModelName, PlannerKind, builtin_planner
from foreman.planner.plan import SkillSpec, parse_plan, skill_specs
from foreman.skills.library import BUILT_IN_LIBRARY, SkillLibrary

LEVELS = ("GoToLocal", "PickupLoc", "PutNextLocal", "GoToSeq", "SynthSeq", "BossLevel")


PARAPHRASES = Path(__file__).parent / "paraphrases.jsonl"


@dataclass(frozen=True)
class PlannerBenchConfig:
    level: str = "BabyAI-BossLevel-v0"
    """an env id, 'all' (six BabyAI levels) or 'paraphrases' (the goals of --goals)"""
    episodes: int = 100
    """missions per level"""
    seed: int = 1_000_000
    """the first mission's seed (held out from the planner's training data)"""
    goals: Path = PARAPHRASES
    """with --level paraphrases: JSON lines {"goal", and "means" or "mission" (a BabyAI mission),
    or "plan" (skill calls, one per line, for goals that need skills of --library)}"""
    cards: bool = False
    """list the skills of the library's cards (as the agent does), not the mission kinds'
    vocabulary (one skill per kind, named after it)"""
    library: Path | None = None
    """a skill library folder whose cards are listed beside the built-in ones (implies --cards)"""
    planner: PlannerKind = "llm"
    """llm: the fine-tuned default; base: the untuned --model, few-shot; saycan: candidate calls scored"""
    model: ModelName = "qwen2.5-coder-1.5b-instruct-q4_k_m"
    """the model of the ``base`` planner"""
    grammar: bool = True
    """constrain the model's output to the plan grammar"""
    adapter: Path = DEFAULT_ADAPTER
    """the LoRA adapter of ``llm`` and ``saycan``"""
    out: Path | None = field(default_factory=lambda: user_path("bench"))
    """folder for the summary result files (none: do not write them)"""

    @property
    def planner_name(self) -> str:
        if self.planner == "base":
            return self.model
        return self.adapter.name + ("-saycan" if self.planner == "saycan" else "")


def acceptable_orders(instr: Instruction) -> list[list]:
    """Every clause order that satisfies the instruction."""
    if isinstance(instr, And):
        a, b = acceptable_orders(instr.first), acceptable_orders(instr.second)
        return [x + y for x, y in itertools.product(a, b)] + [y + x for x, y in itertools.product(a, b)]
    if isinstance(instr, (Before, After)):
        firsts, seconds = acceptable_orders(instr.first), acceptable_orders(instr.second)
        return [x + y for x, y in itertools.product(firsts, seconds)]
    return [[instr]]


def _article_free(plan: list) -> list:
    """The plan as (kind, descriptions) with every description's article made "the": BabyAI's
    verifier accepts any matching object for "the" and "a" alike, and a rewording may swap them."""
    return [
        (step.kind, [d.model_copy(update={"article": "the"}) for d in arguments_of(step) if d is not None])
        for step in plan
    ]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _specs(config: PlannerBenchConfig) -> list[SkillSpec]:
    if not config.cards and config.library is None:
        return vocabulary_specs()
    library = SkillLibrary(BUILT_IN_LIBRARY, *([config.library] if config.library else []))
    return skill_specs([c.model_dump(mode="json") for c in library.cards()])


def _plan_cases(planner: LLMPlanner, cases: list[dict], specs: list[SkillSpec]) -> dict:
    """Plan each case's goal and compare with the mission (or plan) it means; rows and their summary."""
    rows = []
    for case in cases:
        result = planner.plan(PlanRequest(goal=case["goal"], skills=specs))
        if "plan" in case:
            orders = [parse_plan(case["plan"], specs)]
        else:
            orders = acceptable_orders(parse_mission(case["means"]))
        rows.append(
            {
                **case,
                "exact": result.plan is not None and result.plan in orders,
                "exact_any_article": result.plan is not None
                and _article_free(result.plan) in [_article_free(o) for o in orders],
                "plan": result.attempts[-1].raw if result.attempts else None,
                "attempts": len(result.attempts),
                "failure": result.failure,
                "latency_s": result.latency_s,
                "prompt_tokens": result.prompt_tokens,
                "completion_tokens": result.completion_tokens,
            }
        )
    latencies = [r["latency_s"] for r in rows]
    return {
        "episodes": len(rows),
        "exact": sum(r["exact"] for r in rows) / len(rows),
        "exact_any_article": sum(r["exact_any_article"] for r in rows) / len(rows),
        "failures": sum(r["failure"] is not None for r in rows),
        "p50_s": statistics.median(latencies),
        "p95_s": _percentile(latencies, 0.95),
        "mean_prompt_tokens": statistics.fmean(r["prompt_tokens"] for r in rows),
        "mean_completion_tokens": statistics.fmean(r["completion_tokens"] for r in rows),
        "per_episode": rows,
    }


def _write(summary: dict, config: PlannerBenchConfig, name: str, seeds: list[int] | None) -> None:
    """The summary as a result file in ``config.out``; the per-mission rows in the user's runs folder."""
    rows = user_path("runs", "bench", f"planner_{name}.json")
    rows.parent.mkdir(parents=True, exist_ok=True)
    rows.write_text(json.dumps(summary, indent=1))
    if config.out is not None:
        adapter = config.adapter if config.planner in ("llm", "saycan") else None
        provenance = {"command": command_line("bench planner", config, omit=("out",)), "seeds": seeds}
        write_result(config.out, "planner", name, summary, artifacts=artifacts(adapter, []), **provenance)


def run(config: PlannerBenchConfig) -> dict:
    """Exact decomposition of a level's own missions on seeds ``seed`` .. ``seed + episodes - 1``."""
    planner = builtin_planner(config.planner, base_model=config.model, adapter=config.adapter)
    if isinstance(planner, LLMPlanner):  # SayCan scores candidates: no grammar to switch
        planner.grammar = config.grammar
    env = make_env(config.level)
    cases = []
    for seed in range(config.seed, config.seed + config.episodes):
        mission = env.reset(seed=seed)[0]["mission"]
        cases.append({"seed": seed, "goal": mission, "means": mission})
    summary = {
        "level": config.level,
        "seeds": [config.seed, config.seed + config.episodes - 1],
        "model": config.planner_name,
        "planner": planner.identity,
        "grammar": getattr(planner, "grammar", None),
        "config": {k: str(v) for k, v in asdict(config).items()},
        **_plan_cases(planner, cases, _specs(config)),
    }
    _write(summary, config, f"{config.level}_{config.planner_name}_{config.seed}_{config.episodes}", summary["seeds"])
    return summary


def run_paraphrases(config: PlannerBenchConfig, path: Path = PARAPHRASES) -> dict:
    """Exact decomposition of paraphrased goals, each with the mission it means (``means``, or
    ``mission`` as in the files of ``foreman finetune goals``)."""
    planner = builtin_planner(config.planner, base_model=config.model, adapter=config.adapter)
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    cases = [
        {"goal": row["goal"], "plan": row["plan"]}
        if "plan" in row
        else {"goal": row["goal"], "means": row.get("means") or row["mission"]}
        for row in rows
    ]
    name = "paraphrases" if path == PARAPHRASES else path.stem
    summary = {
        "level": name,
        "goals_file": str(path),
        "model": config.planner_name,
        "planner": planner.identity,
        **_plan_cases(planner, cases, _specs(config)),
    }
    _write(summary, replace(config, level="paraphrases", goals=path), f"{name}_{config.planner_name}", None)
    return summary


def bench_planner(config: PlannerBenchConfig) -> list[dict]:
    """``foreman bench planner``: one level, the six BabyAI levels, or a file of paraphrases."""
    if config.level == "paraphrases":
        return [run_paraphrases(config, config.goals)]
    levels = [f"BabyAI-{level}-v0" for level in LEVELS] if config.level == "all" else [config.level]
    for level in levels:
        make_env(level)  # an unknown id fails here, before the model loads
    return [run(replace(config, level=level)) for level in levels]


def table(summaries: list[dict]) -> str:
    lines = [
        "| level | episodes | exact | p50 s | p95 s | prompt tok | completion tok |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        lines.append(
            f"| {s['level']} | {s['episodes']} | {s['exact']:.1%} | {s['p50_s']:.2f} | "
            f"{s['p95_s']:.2f} | {s['mean_prompt_tokens']:.0f} | {s['mean_completion_tokens']:.1f} |"
        )
    return "\n".join(lines)
