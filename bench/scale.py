"""``foreman bench scale``: the same eval in one process, in worker processes and on Ray, side by side,
and PPO's rollouts in local processes beside Ray actors.

Every eval run is a ``foreman eval`` process of its own that plays the same episodes from
scratch (its wall time is the command's, start-up included) and is compared with the one-process
run row by row (wall times aside). One worker is run twice:
with the machine's cores as its threads (what ``foreman eval`` does alone) and with one thread, as
each of N workers has on N cores, so that the speed-up of workers is shown against both.
"""

from __future__ import annotations

import copy
import datetime
import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import torch

from foreman.arguments import command_line
from foreman.bench.results import artifacts, write_result
from foreman.errors import ForemanError
from foreman.evaluation import EvalConfig, episode_rows
from foreman.paths import user_path
from foreman.planner.builtin import DEFAULT_ADAPTER
from foreman.skills import SkillLibrary
from foreman.skills.ppo import PPOConfig, finetune
from foreman.skills.train import TRAINING_LEVELS


@dataclass(frozen=True)
class ScaleBenchConfig:
    env_id: str = field(default="BabyAI-BossLevel-v0", metadata={"flags": ("--level", "--env")})
    """the level whose seeds every eval run plays"""
    episodes: int = 200
    """episodes per eval run (0: no eval runs)"""
    seed: int = 2_000_000
    planner: Literal["llm", "reference"] = "llm"
    """the eval's planner (reference: privileged, no language model; for quick checks)"""
    workers: int = 2
    """workers of the parallel runs (local processes, Ray actors, PPO samplers)"""
    ray: bool = True
    """also run the workers as actors of a Ray instance started for the run"""
    ppo_skill: str = "go_to"
    """the shipped skill whose network and level PPO trains on"""
    ppo_frames: int = 65_536
    """PPO frames per run (0: no PPO runs)"""
    ppo_repeats: int = 1
    """PPO runs per sampler, alternating local and Ray (this machine's speed varies by several percent)"""
    runs: Path | None = None
    """folder for the eval run folders (default: runs/scale/<date and time> in the user's foreman folder)"""
    out: Path | None = field(default_factory=lambda: user_path("bench"))
    """folder for the summary result file (none: do not write it)"""


def _rows(folder: Path) -> list[dict]:
    rows = episode_rows(folder / "episodes.jsonl")
    return sorted(({k: v for k, v in r.items() if k != "wall_s"} for r in rows), key=lambda r: r["index"])


def _eval_runs(config: ScaleBenchConfig, folder: Path) -> list[dict]:
    base = EvalConfig(env_id=config.env_id, episodes=config.episodes, seed=config.seed, planner=config.planner)
    variants = {
        "one process": replace(base, workers=1),
        "one process, 1 thread": replace(base, workers=1, threads=1),
        f"{config.workers} local workers": replace(base, workers=config.workers),
    }
    if config.ray:
        variants[f"{config.workers} Ray actors"] = replace(base, workers=config.workers, ray_address="local")
    results = []
    for label, variant in variants.items():
        out = folder / label.replace(" ", "-").replace(",", "")
        command = [
            sys.executable,
            "-m",
            "foreman.cli",
            *shlex.split(command_line("eval", replace(variant, out=out)))[1:],
        ]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode:
            raise ForemanError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
        [summary] = json.loads((out / "summary.json").read_text())
        workers = json.loads((out / "workers.json").read_text())
        results.append(
            {
                "run": label,
                "workers": variant.workers,
                "threads_per_worker": workers[0]["threads"],
                "episodes": summary["episodes"],
                "wall_s": wall,
                "episodes_per_s": summary["episodes"] / wall,
                "success_rate": summary["success_rate"],
                "peak_rss_mb": [w["peak_rss_mb"] for w in workers],
                "folder": str(out),
            }
        )
    reference = _rows(Path(results[0]["folder"]))
    for result in results:
        result["rows_identical"] = _rows(Path(result["folder"])) == reference
        result["speedup"] = result["episodes_per_s"] / results[0]["episodes_per_s"]
        result["speedup_vs_1_thread"] = result["episodes_per_s"] / results[1]["episodes_per_s"]
    return results


def _ppo_runs(config: ScaleBenchConfig, library: SkillLibrary) -> list[dict]:
    start = library.load(config.ppo_skill).network
    torch.optim.Adam(start.parameters())  # the first optimizer of a process imports torch._dynamo (seconds)
    results = []
    samplers = ((f"{config.workers} local processes", None), (f"{config.workers} Ray actors", "local"))
    for label, address in samplers * config.ppo_repeats:
        ppo = PPOConfig(frames=config.ppo_frames, workers=config.workers, ray_address=address)
        started = time.perf_counter()
        stats = finetune(copy.deepcopy(start).train(), TRAINING_LEVELS[config.ppo_skill], ppo)
        wall = time.perf_counter() - started
        results.append(
            {
                "sampler": label,
                "frames": stats.frames,
                "wall_s": wall,
                "fps": stats.frames / wall,
                "startup_s": wall - stats.seconds,
                "fps_after_startup": stats.frames / stats.seconds,
            }
        )
    for number, result in enumerate(results):
        local = results[number - number % 2]  # the local run just before (or this one)
        result["ratio_to_local"] = result["fps"] / local["fps"]
        result["ratio_after_startup"] = result["fps_after_startup"] / local["fps_after_startup"]
    return results


def run_scale(config: ScaleBenchConfig, library: SkillLibrary | None = None) -> dict:
    """Every run above; one summary of them all."""
    library = library or SkillLibrary()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = config.runs or user_path("runs", "scale") / stamp
    summary: dict = {"level": config.env_id, "planner": config.planner}
    summary["eval"] = _eval_runs(config, folder) if config.episodes else []
    if config.ppo_frames:
        summary["ppo_skill"], summary["ppo"] = config.ppo_skill, _ppo_runs(config, library)
    if config.out is not None:
        adapter = DEFAULT_ADAPTER if config.planner == "llm" else None
        hashes = artifacts(adapter, library.cards())
        name = f"{config.env_id}_s{config.seed}_n{config.episodes}_w{config.workers}"
        name += f"_ppo{config.ppo_frames}x{config.ppo_repeats}" if config.ppo_repeats > 1 else ""
        seeds = [config.seed, config.seed + config.episodes - 1] if config.episodes else None
        command = command_line("bench scale", config, omit=("out", "runs"))
        write_result(config.out, "scale", name, summary, command=command, seeds=seeds, artifacts=hashes)
    return summary


def table(summary: dict) -> str:
    lines = []
    if summary["eval"]:
        lines += [
            f"{summary['level']}, planner {summary['planner']}: the same episodes each run (wall time from start-up)",
            "| run | workers | threads each | episodes | wall s | episodes/s | speed-up | vs 1 thread | rows identical "
            "| peak RSS per worker (MiB) | success |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
    for r in summary["eval"]:
        rss = ", ".join(f"{m:.0f}" for m in r["peak_rss_mb"])
        lines.append(
            f"| {r['run']} | {r['workers']} | {r['threads_per_worker']} | {r['episodes']} | {r['wall_s']:.0f} | "
            f"{r['episodes_per_s']:.3f} | {r['speedup']:.2f}x | {r['speedup_vs_1_thread']:.2f}x | "
            f"{'yes' if r['rows_identical'] else 'NO'} | {rss} | {r['success_rate']:.1%} |"
        )
    if "ppo" in summary:
        lines += [""] if lines else []
        lines += [
            f"PPO on {summary['ppo_skill']}'s level, each Ray run beside the local run just before it",
            "| rollouts | frames | wall s | start-up s | frames/s | ratio to local | after start-up | ratio |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['sampler']} | {r['frames']} | {r['wall_s']:.1f} | {r['startup_s']:.1f} | {r['fps']:.0f} | "
            f"{r['ratio_to_local']:.2f} | {r['fps_after_startup']:.0f} | {r['ratio_after_startup']:.2f} |"
            for r in summary["ppo"]
        ]
    return "\n".join(lines)
