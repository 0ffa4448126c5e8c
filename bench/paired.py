"""Two evals of the same episodes, compared episode by episode.

An ablation or a retrained part changes a few episodes each way; the successes of two runs on the
same episodes are not independent samples, so the question is how many episodes changed outcome
and in which direction. McNemar's exact test answers it: under "no difference", each changed
episode is equally likely to have changed either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from foreman.errors import ForemanError
from foreman.evaluation import episode_rows


def _rows(run: Path) -> dict[tuple, bool]:
    path = run / "episodes.jsonl" if run.is_dir() else run
    if not path.exists():
        raise ForemanError(f"{path} does not exist: pass an eval run folder or its episodes.jsonl")
    return {(row["env_id"], row["seed"], row.get("goal")): bool(row["success"]) for row in episode_rows(path)}


def mcnemar_exact(gained: int, lost: int) -> float:
    """Two-sided exact McNemar p-value: the binomial tail of the changed episodes at one half."""
    changed = gained + lost
    if changed == 0:
        return 1.0
    tail = sum(math.comb(changed, k) for k in range(min(gained, lost) + 1)) / 2**changed
    return min(1.0, 2 * tail)


@dataclass(frozen=True)
class PairedConfig:
    before: Path = field(metadata={"positional": True})
    """an eval run folder (or its episodes.jsonl)"""
    after: Path = field(metadata={"positional": True})
    """another eval of the same episodes"""


def paired(config: PairedConfig) -> dict:
    """Two evals of the same episodes: which changed each way, and McNemar's exact p."""
    return compare(config.before, config.after)


def compare(before: Path, after: Path) -> dict:
    """Success of both runs on the episodes they share, the episodes that changed, and the p-value."""
    a, b = _rows(before), _rows(after)
    shared = sorted(a.keys() & b.keys(), key=str)
    if not shared:
        raise ForemanError(f"{before} and {after} share no episode (env, seed and goal)")
    gained = [k for k in shared if b[k] and not a[k]]
    lost = [k for k in shared if a[k] and not b[k]]
    return {
        "before": str(before),
        "after": str(after),
        "episodes": len(shared),
        "successes_before": sum(a[k] for k in shared),
        "successes_after": sum(b[k] for k in shared),
        "failure_to_success": len(gained),
        "success_to_failure": len(lost),
        "mcnemar_p": mcnemar_exact(len(gained), len(lost)),
        "gained": [list(k) for k in gained],
        "lost": [list(k) for k in lost],
    }


def describe(result: dict) -> str:
    n = result["episodes"]
    return (
        f"{n} shared episodes: {result['successes_before']} -> {result['successes_after']} successes "
        f"({result['successes_before'] / n:.1%} -> {result['successes_after'] / n:.1%}); "
        f"{result['failure_to_success']} failure->success, {result['success_to_failure']} success->failure; "
        f"McNemar exact p = {result['mcnemar_p']:.3g}"
    )
