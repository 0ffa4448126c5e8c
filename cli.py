"""The ``foreman`` command: a thin dispatcher.

Each command is a config dataclass, a ``main(config) -> result`` on the floor it belongs to, and a
function that writes the result for people (``--json`` writes it for programs). The options come
from the config's fields (``foreman.arguments``), so they are documented once, where they are
defined. Only the chosen command's module is imported.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foreman.arguments import add_options, from_options
from foreman.errors import ForemanError


@dataclass(frozen=True)
class Command:
    words: str
    """what follows ``foreman``, e.g. "skills eval\""""
    help: str
    module: str
    """the module (under foreman.) with the config, the main function and the text function"""
    config: str
    main: str
    text: str


COMMANDS = (
    Command("envs", "list the registered env ids", "envs.commands", "EnvsConfig", "list_envs", "list_envs_text"),
    Command("parse", "a BabyAI mission as its instruction tree", "envs.commands", "ParseConfig", "parse", "parse_text"),
    Command(
        "describe",
        "an env's mission, its clauses, and what the agent sees at the start",
        "envs.commands",
        "DescribeConfig",
        "describe",
        "describe_text",
    ),
    Command("plan", "plan a goal with a language model", "planner.commands", "PlanConfig", "plan", "plan_text"),
    Command("run", "the agent pursues tasks in a world, one after another", "session", "RunConfig", "run", "run_text"),
    Command(
        "eval",
        "many episodes: success with 95% intervals, steps, LLM calls, causes of failure",
        "evaluation",
        "EvalConfig",
        "evaluate",
        "evaluate_text",
    ),
    Command(
        "trace replay",
        "re-run a trace's actions and check the world ends the same way",
        "traces.commands",
        "ReplayConfig",
        "replay_trace",
        "replay_trace_text",
    ),
    Command(
        "trace summary",
        "success, LLM calls, replans, failures by skill and plan step",
        "traces.commands",
        "SummaryConfig",
        "summarise_traces",
        "summarise_traces_text",
    ),
    Command(
        "trace html",
        "one self-contained HTML report: plans, timeline, prompts, frames",
        "traces.commands",
        "HtmlConfig",
        "trace_html",
        "trace_html_text",
    ),
    Command("skills list", "every skill's card", "skills.commands", "ListConfig", "list_skills", "list_skills_text"),
    Command(
        "skills new",
        "a folder for a skill of a new kind, with a declaration to edit",
        "skills.commands",
        "NewSkillConfig",
        "new_skill",
        "new_skill_text",
    ),
    Command(
        "skills eval",
        "a skill's success on seeds of its level",
        "skills.commands",
        "SkillEvalConfig",
        "evaluate_skill",
        "evaluate_skill_text",
    ),
    Command(
        "skills fit-critic",
        "fit a skill's value to its own outcomes (an affordance score)",
        "skills.commands",
        "FitCriticConfig",
        "fit_skill_critic",
        "fit_skill_critic_text",
    ),
    Command(
        "train",
        "train one skill (cloning from the bot, DAgger, PPO; a declared kind: PPO from its check)",
        "skills.train",
        "TrainConfig",
        "train",
        "train_text",
    ),
    Command(
        "sweep",
        "many training runs from a file of configs, on local workers or a Ray cluster",
        "sweep",
        "SweepConfig",
        "sweep",
        "sweep_text",
    ),
    Command(
        "finetune data",
        "the generated (request, plan) examples as JSON lines",
        "planner.tuning.commands",
        "DataConfig",
        "write_data",
        "written_text",
    ),
    Command(
        "finetune sft",
        "LoRA fine-tuning of the planner on generated examples (resumable)",
        "planner.tuning.commands",
        "SFTConfig",
        "finetune_sft",
        "adapter_text",
    ),
    Command(
        "finetune goals",
        "missions reworded by the untuned 1.5B model, for `foreman eval --goals`",
        "planner.tuning.commands",
        "GoalsConfig",
        "reworded_goals",
        "written_text",
    ),
    Command(
        "finetune outcomes",
        "reinforcement from outcomes: sample plans for reworded goals, keep what succeeds, train",
        "outcome_training",
        "OutcomesCommand",
        "finetune_outcomes",
        "outcomes_text",
    ),
    Command(
        "bench planner",
        "exact plans, latency and tokens on held-out missions",
        "bench.planner",
        "PlannerBenchConfig",
        "bench_planner",
        "table",
    ),
    Command(
        "bench skills", "every shipped skill on held-out seeds", "bench.skills", "SkillBenchConfig", "run", "table"
    ),
    Command(
        "bench ppo",
        "PPO throughput beside Stable-Baselines3",
        "bench.ppo_throughput",
        "ThroughputConfig",
        "run",
        "table",
    ),
    Command(
        "bench scale",
        "one eval in one process, in worker processes and on Ray; PPO rollouts local and on Ray",
        "bench.scale",
        "ScaleBenchConfig",
        "run_scale",
        "table",
    ),
    Command(
        "bench agent",
        "foreman eval, with each level's summary written as a result file",
        "bench.agent",
        "AgentBenchConfig",
        "bench_agent",
        "bench_agent_text",
    ),
    Command(
        "bench tasks",
        "users' tasks other than the world's mission, sessions and refusals, judged by the bench's verifier",
        "bench.tasks",
        "TasksBenchConfig",
        "bench_tasks",
        "table",
    ),
    Command(
        "bench paired",
        "two evals of the same episodes: which changed, McNemar's exact test",
        "bench.paired",
        "PairedConfig",
        "paired",
        "describe",
    ),
    Command(
        "bench report",
        "every result file of a folder as one Markdown page",
        "bench.results",
        "ReportConfig",
        "write_report",
        "write_report_text",
    ),
)


def _chosen(argv: list[str]) -> Command | None:
    """The command named by the first words of ``argv`` that are not options."""
    words = [a for a in argv if not a.startswith("-")][:2]
    for count in (2, 1):
        for command in COMMANDS:
            if command.words.split() == words[:count]:
                return command
    return None


def _loaded(command: Command, name: str) -> Any:
    return getattr(importlib.import_module(f"foreman.{command.module}"), name)


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser, with the options of the command ``argv`` names (the others' are not imported)."""
    parser = argparse.ArgumentParser(prog="foreman", description="A language model plans; learned skills execute.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    chosen = _chosen(argv)
    groups: dict[str, argparse._SubParsersAction] = {"": parser.add_subparsers(dest="command", required=True)}
    for command in COMMANDS:
        *group, last = command.words.split()
        prefix = " ".join(group)
        if prefix not in groups:
            sub = groups[""].add_parser(prefix, help=f"{prefix} commands")
            groups[prefix] = sub.add_subparsers(dest=f"{prefix}_command", required=True)
        sub = groups[prefix].add_parser(last, help=command.help.replace("%", "%%"), description=command.help)
        if command == chosen:
            add_options(sub, _loaded(command, command.config))
            sub.add_argument("--json", action="store_true", help="write the result as JSON")
            sub.set_defaults(command_spec=command)
    return parser


def parse_command(argv: list[str]) -> tuple[Command, Any, bool]:
    """The command, its config and whether JSON was asked for; argparse exits on a usage error."""
    args = build_parser(argv).parse_args(argv)
    command: Command = args.command_spec
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING)
    return command, from_options(_loaded(command, command.config), args), args.json


def reference() -> str:
    """``docs/cli.md``: every command's ``--help``, as the configs make it (``HOME`` shown as ~)."""
    lines = ["# Command line", "", (
        "Generated from the config dataclasses by `foreman.cli.reference()`; `foreman COMMAND --help`\n"
        "prints the same. Every command takes `--json` to write its result for programs; `-v` before\n"
        "the command logs at debug level. Outputs default to the user's foreman folder\n"
        "(`$FOREMAN_HOME`, else `~/.local/share/foreman`)."
    ), "", "| command | what it does |", "|---|---|"]  # fmt: skip
    lines += [f"| `foreman {c.words}` | {c.help} |" for c in COMMANDS]
    for command in COMMANDS:
        argv = command.words.split()
        parser = build_parser(argv)
        sub = parser._subparsers._group_actions[0].choices[argv[0]]  # type: ignore[union-attr,index]
        if len(argv) > 1:
            sub = sub._subparsers._group_actions[0].choices[argv[1]]
        text = sub.format_help().replace(str(Path.home()), "~").rstrip()
        lines += ["", f"## foreman {command.words}", "", "```", text, "```"]
    return "\n".join(lines) + "\n"


def _json(result: Any) -> str:
    if hasattr(result, "model_dump_json"):
        return result.model_dump_json()
    if isinstance(result, list):
        return json.dumps([r.model_dump(mode="json") if hasattr(r, "model_dump") else r for r in result])
    plain = dataclasses.is_dataclass(result) and not isinstance(result, type)
    return json.dumps(dataclasses.asdict(result) if plain else result, default=str)


def _failed(result: Any) -> bool:
    """A result that says it did not succeed: an episode, a plan, a replay that did not reproduce."""
    if isinstance(result, dict):
        return result.get("ok") is False
    return getattr(result, "success", True) is False


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command, config, as_json = parse_command(argv)
    try:
        result = _loaded(command, command.main)(config)
    except ForemanError as error:
        print(f"foreman {command.words}: {error}", file=sys.stderr)
        return 2
    text = _json(result) if as_json else _loaded(command, command.text)(result)
    if text:
        print(text)
    return 1 if _failed(result) else 0


if __name__ == "__main__":
    sys.exit(main())
