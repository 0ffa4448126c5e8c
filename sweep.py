"""``foreman sweep``: many training runs, one per line of a file, spread over workers or a Ray cluster.

Each line is a JSON object of ``foreman train`` options by their config names (``{"skill":
"close", "ppo_frames": 200000, "shaping": 0.2}``). Run ``n`` (from 0) saves its skill under
``<out>/<n>/skills`` and its TensorBoard run under ``<out>/<n>/tb`` unless the line names a
``library`` or ``logdir`` of its own, so that no two runs write the same card. Each run's card, or
the error that stopped it, is written to ``<out>/runs.jsonl`` as it finishes; a sweep run again
skips the runs already there.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foreman.errors import ForemanError
from foreman.paths import user_path
from foreman.skills.train import TrainConfig, train
from foreman.workers import Pool


@dataclass(frozen=True)
class SweepConfig:
    configs: Path = field(metadata={"positional": True})
    """a JSON-lines file: one object of `foreman train` options per run"""
    workers: int = 1
    """runs at a time (local processes, or Ray actors with --ray-address)"""
    ray_address: str | None = None
    """run on a Ray cluster: auto, HOST:PORT, or local (a Ray instance started for the sweep)"""
    threads: int | None = None
    """torch threads per run (default: this machine's cores / --workers; 1 on Ray)"""
    out: Path | None = None
    """the sweep's folder (default: runs/sweep/<the file's name> in the user's foreman folder)"""


_OPTIONS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def training_configs(config: SweepConfig, out: Path) -> list[TrainConfig]:
    """The file's lines as training configs, each writing into its own folder; a bad line is an error
    naming its number and what is wrong, before anything trains."""
    try:
        lines = config.configs.read_text().splitlines()
    except OSError as error:
        raise ForemanError(f"cannot read {config.configs}: {error.strerror}") from None
    configs = []
    for number, line in enumerate((line for line in lines if line.strip()), start=1):
        try:
            options = json.loads(line)
        except json.JSONDecodeError as error:
            raise ForemanError(f"{config.configs}, run {number}: not JSON ({error.msg})") from None
        if not isinstance(options, dict):
            raise ForemanError(f"{config.configs}, run {number}: expected an object of `foreman train` options")
        unknown = sorted(set(options) - set(_OPTIONS))
        if unknown:
            raise ForemanError(f"{config.configs}, run {number}: no `foreman train` option {', '.join(unknown)}")
        folder = out / str(number - 1)
        defaults = {"library": folder / "skills", "logdir": folder / "tb"}
        values = defaults | {k: Path(v) if k in defaults else v for k, v in options.items()}
        configs.append(TrainConfig(**values))
    return configs


class Trainer:
    """A sweep's worker: trains one config, answers with its card (or the error that stopped it)."""

    def __call__(self, config: TrainConfig) -> dict[str, Any]:
        try:
            card = train(config)
        except ForemanError as error:
            return {"error": str(error)}
        return {"card": json.loads(card.model_dump_json())}


def sweep(config: SweepConfig) -> list[dict[str, Any]]:
    """Train every config of the file not yet done; one row per run, in the file's order."""
    out = config.out or user_path("runs", "sweep") / config.configs.stem
    configs = training_configs(config, out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "runs.jsonl"
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # cut short by a kill: that run trains again
            done[row["run"]] = row
    jobs = {n: c for n, c in enumerate(configs) if n not in done}
    pool = Pool(config.workers, config.ray_address, config.threads)
    with path.open("a") as rows:
        for number, result in pool.run(Trainer, jobs):
            row = {"run": number, "config": {k: str(v) for k, v in dataclasses.asdict(configs[number]).items()}}
            done[number] = row | result
            rows.write(json.dumps(done[number]) + "\n")
            rows.flush()
    return [done[n] for n in sorted(done)]


def sweep_text(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| run | skill | success | episodes | frames | PPO frames | minutes | saved in |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['run']} | {row['config']['skill']} | failed: {row['error']} | | | | | |")
            continue
        card = row["card"]
        evaluation, training = card.get("evaluation") or {}, card["training"]
        lines.append(
            f"| {row['run']} | {card['name']} | {evaluation.get('success_rate', 0):.1%} | "
            f"{evaluation.get('episodes', 0)} | {training['frames']} | {training.get('rl_frames', 0)} | "
            f"{training['minutes']:.1f} | {row['config']['library']} |"
        )
    return "\n".join(lines)
