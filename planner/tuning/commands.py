"""``foreman finetune data | sft | goals``: the planner's fine-tuning data and supervised LoRA."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foreman.planner.tuning.data import DataRecipe, generate
from foreman.planner.tuning.sft import SFTConfig, train_sft


@dataclass(frozen=True)
class DataConfig:
    recipe: DataRecipe = field(default_factory=DataRecipe)
    output: Path | None = field(default=None, metadata={"flags": ("-o", "--output")})
    """the JSON-lines file to write (default: standard output)"""


def _lines(output: Path | None, lines: Iterable[str]) -> int:
    count = 0
    with output.open("w") if output else contextlib.nullcontext(sys.stdout) as out:
        for line in lines:
            out.write(line + "\n")
            count += 1
    return count


def written_text(result: dict[str, Any]) -> str:
    """Nothing where the lines went to standard output; else where they went."""
    return f"wrote {result['lines']} lines to {result['output']}" if result["output"] else ""


def write_data(config: DataConfig) -> dict[str, Any]:
    """Write the generated (request, plan) examples as JSON lines."""
    count = _lines(config.output, (example.model_dump_json() for example in generate(config.recipe)))
    return {"lines": count, "output": str(config.output) if config.output else None}


def finetune_sft(config: SFTConfig) -> dict[str, Any]:
    """LoRA fine-tuning on generated examples (resumable); the adapter lands in the run folder."""
    return {"out": str(config.out), **train_sft(config).model_dump(mode="json")}


def adapter_text(record: dict[str, Any]) -> str:
    t = record["training"]
    return (
        f"{record['name']}: {t['steps']} steps on {t['examples']} examples ({t['tokens']} tokens), final loss "
        f"{t['final_loss']:.3f}; plan with it: --adapter {record['out']}"
    )


@dataclass(frozen=True)
class GoalsConfig:
    goals: int = 100
    """missions to reword (those whose rewording loses their meaning are left out)"""
    seed: int = 12_000_000
    """their first env seed"""
    output: Path | None = field(default=None, metadata={"flags": ("-o", "--output")})
    """the JSON-lines file to write, for `foreman eval --goals` (default: standard output)"""


def reworded_goals(config: GoalsConfig) -> dict[str, Any]:
    """Missions reworded by the untuned 1.5B model, as JSON lines {"env_id", "seed", "goal", "mission"}."""
    from foreman.planner.tuning.outcomes import OutcomeConfig, unlabeled_goals
    from foreman.planner.tuning.rewording import default_rewriter

    goals = unlabeled_goals(OutcomeConfig(goals=config.goals, seed=config.seed), default_rewriter())
    rows = ({"env_id": g.env_id, "seed": g.seed, "goal": g.goal, "mission": g.mission} for g in goals)
    count = _lines(config.output, (json.dumps(row) for row in rows))
    return {"lines": count, "output": str(config.output) if config.output else None}
