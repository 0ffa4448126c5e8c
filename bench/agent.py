"""``foreman bench agent``: an eval whose per-level summaries become result files."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from foreman.arguments import command_line
from foreman.bench.results import artifacts, write_result
from foreman.evaluation import EvalConfig, run, table
from foreman.paths import user_path
from foreman.skills import SkillLibrary


@dataclass(frozen=True)
class AgentBenchConfig:
    eval: EvalConfig = field(default_factory=EvalConfig)
    results: Path = field(default_factory=lambda: user_path("bench"))
    """folder for the summary result files"""


def bench_agent(config: AgentBenchConfig) -> list[dict]:
    """Run (or resume) the eval, then write each level's summary with its provenance."""
    evaluation = replace(config.eval, resume=True)
    summaries = run(evaluation)
    uses_adapter = evaluation.planner in ("llm", "saycan") and not evaluation.baseline
    hashes = artifacts(evaluation.adapter if uses_adapter else None, SkillLibrary().cards())
    command = command_line("bench agent", evaluation, omit=("resume", "out", "trace"))
    for summary in summaries:
        level = summary["level"].replace(":", "_").replace(" ", "_").replace("(", "").replace(")", "")
        folder = evaluation.folder().name
        name = folder if folder.startswith(level) else f"{level}__{folder}"
        seeds = summary.get("seeds")
        write_result(config.results, "agent", name, summary, command=command, seeds=seeds, artifacts=hashes)
    return summaries


def bench_agent_text(summaries: list[dict]) -> str:
    return table(summaries)
