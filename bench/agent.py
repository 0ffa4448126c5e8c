"""The whole agent on BabyAI levels: success (Wilson 95% interval), steps, LLM calls, time."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from foreman.envs import make_env
from foreman.orchestrator import Agent
from foreman.planner import LlamaCppChat, LLMPlanner
from foreman.planner.weights import PACKAGED_MODELS, QWEN_CODER_1_5B
from foreman.skills import SkillLibrary


@dataclass(frozen=True)
class AgentBenchConfig:
    level: str = "BabyAI-GoToLocal-v0"
    episodes: int = 100
    seed: int = 2_000_000
    model: str = QWEN_CODER_1_5B.name
    out: Path | None = Path("bench/results")


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def run(config: AgentBenchConfig) -> dict:
    agent = Agent(LLMPlanner(LlamaCppChat(model=PACKAGED_MODELS[config.model])), SkillLibrary())
    env = make_env(config.level)
    rows = []
    for seed in range(config.seed, config.seed + config.episodes):
        result = agent.run(env, seed=seed)
        rows.append(
            {
                "seed": seed,
                "mission": result.mission,
                "success": result.success,
                "end_reason": result.end_reason,
                "steps": result.steps,
                "llm_calls": result.llm_calls,
                "replans": result.replans,
                "prompt_tokens": sum(p.prompt_tokens for p in result.plans),
                "wall_s": result.wall_s,
                "failed_skills": [r.skill for r in result.subgoals if r.status != "succeeded"],
            }
        )
    successes = sum(r["success"] for r in rows)
    summary = {
        "level": config.level,
        "episodes": len(rows),
        "seeds": [config.seed, config.seed + config.episodes - 1],
        "planner": f"llm ({config.model})",
        "skills": "learned",
        "success_rate": successes / len(rows),
        "success_ci": wilson(successes, len(rows)),
        "mean_steps": statistics.fmean(r["steps"] for r in rows),
        "median_llm_calls": statistics.median(r["llm_calls"] for r in rows),
        "mean_prompt_tokens": statistics.fmean(r["prompt_tokens"] for r in rows),
        "mean_replans": statistics.fmean(r["replans"] for r in rows),
        "median_wall_s": statistics.median(r["wall_s"] for r in rows),
        "end_reasons": {k: sum(r["end_reason"] == k for r in rows) for k in {r["end_reason"] for r in rows}},
        "config": {k: str(v) for k, v in asdict(config).items()},
        "per_episode": rows,
    }
    if config.out is not None:
        config.out.mkdir(parents=True, exist_ok=True)
        path = config.out / f"agent_{config.level}_{config.seed}_{config.episodes}.json"
        path.write_text(json.dumps(summary, indent=1))
    return summary


def table(summaries: list[dict]) -> str:
    lines = [
        "| level | episodes | success | 95% CI | mean steps | median LLM calls | prompt tok | median s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in summaries:
        low, high = s["success_ci"]
        lines.append(
            f"| {s['level']} | {s['episodes']} | {s['success_rate']:.1%} | {low:.1%}-{high:.1%} | "
            f"{s['mean_steps']:.1f} | {s['median_llm_calls']:.0f} | {s['mean_prompt_tokens']:.0f} | "
            f"{s['median_wall_s']:.2f} |"
        )
    return "\n".join(lines)
