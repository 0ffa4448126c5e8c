"""Every shipped skill on held-out seeds of its level, beside what its training cost (from its card)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from foreman.arguments import command_line
from foreman.bench.results import artifacts, write_result
from foreman.evaluation import wilson
from foreman.paths import user_path
from foreman.skills import SkillLibrary
from foreman.skills.train import evaluate, training_level


@dataclass(frozen=True)
class SkillBenchConfig:
    episodes: int = 500
    seed: int = 20_000_000
    """held out: demonstrations use seeds from 0, card evaluations from 10,000,000"""
    workers: int = 2
    """processes playing episodes"""
    skill: str | None = None
    """one skill only (default: every shipped skill)"""
    out: Path | None = field(default_factory=lambda: user_path("bench"))
    """folder for the summary result files (none: do not write them)"""


def run(config: SkillBenchConfig, library: SkillLibrary | None = None) -> list[dict]:
    library = library or SkillLibrary()
    rows = []
    cards = [c for c in library.cards() if config.skill in (None, c.name)]
    if not cards:
        library.load(str(config.skill))  # an unknown skill: the library's error lists what there is
    for card in cards:
        skill = library.load(card.name)
        training_level(card)  # a declared kind's level is registered from its card
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
                "rl_frames": card.training.rl_frames,
                "init": card.training.init,
                "train_minutes": card.training.minutes,
            }
        )
    if config.out is not None:
        command = command_line("bench skills", config, omit=("out",))
        for row, card in zip(rows, cards, strict=True):
            hashes = artifacts(None, [card])
            name = f"{row['skill']}_s{config.seed}_n{config.episodes}"
            write_result(config.out, "skills", name, row, command=command, seeds=row["seeds"], artifacts=hashes)
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
