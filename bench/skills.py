"""Every shipped skill on held-out seeds of its level, beside what its training cost (from its card)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from foreman.bench.agent import wilson
from foreman.skills import SkillLibrary
from foreman.skills.train import evaluate


@dataclass(frozen=True)
class SkillBenchConfig:
    episodes: int = 500
    seed: int = 20_000_000
    """held out: demonstrations use seeds from 0, card evaluations from 10,000,000"""
    workers: int = 2
    out: Path | None = Path("bench/results")


def run(config: SkillBenchConfig, library: SkillLibrary | None = None) -> list[dict]:
    library = library or SkillLibrary()
    rows = []
    for card in library.cards():
        skill = library.load(card.name)
        env_id = card.evaluation.env_id if card.evaluation else card.training.env_id
        result = evaluate(skill, env_id, range(config.seed, config.seed + config.episodes), workers=config.workers)
        successes = round(result.success_rate * result.episodes)
        rows.append(
            {
                "skill": card.name,
                "env_id": env_id,
                "episodes": result.episodes,
                "seeds": list(result.seeds),
                "success_rate": result.success_rate,
                "success_ci": wilson(successes, result.episodes),
                "mean_steps": result.mean_steps,
                "demos": card.training.demos,
                "dagger_episodes": card.training.dagger_episodes,
                "frames": card.training.frames,
                "train_minutes": card.training.minutes,
            }
        )
    if config.out is not None:
        config.out.mkdir(parents=True, exist_ok=True)
        (config.out / f"skills_s{config.seed}_n{config.episodes}.json").write_text(json.dumps(rows, indent=1))
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| skill | level | episodes | success | 95% CI | mean steps | demos | DAgger episodes | frames | train min |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        low, high = r["success_ci"]
        lines.append(
            f"| {r['skill']} | {r['env_id']} | {r['episodes']} | {r['success_rate']:.1%} | {low:.1%}-{high:.1%} | "
            f"{r['mean_steps']:.1f} | {r['demos']} | {r['dagger_episodes']} | {r['frames']} | "
            f"{r['train_minutes']:.1f} |"
        )
    return "\n".join(lines)
