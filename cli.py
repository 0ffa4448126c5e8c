"""The ``foreman`` command. Each subcommand is a function ``(args) -> exit status``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from pydantic import TypeAdapter

from foreman.envs import (
    AgentMemory,
    Instruction,
    clauses_in_order,
    make_env,
    parse_mission,
    registered_env_ids,
)
from foreman.errors import ForemanError

_INSTRUCTION = TypeAdapter(Instruction)


def _envs(args: argparse.Namespace) -> int:
    ids = [i for i in registered_env_ids() if args.prefix is None or i.startswith(args.prefix)]
    print(json.dumps(ids) if args.json else "\n".join(ids))
    return 0


def _parse(args: argparse.Namespace) -> int:
    instr = parse_mission(args.mission)
    if args.json:
        print(_INSTRUCTION.dump_json(instr).decode())
    else:
        for number, clause in enumerate(clauses_in_order(instr), 1):
            print(f"{number}. {clause.to_text()}")
    return 0


def _describe(args: argparse.Namespace) -> int:
    env = make_env(args.env, seed=args.seed)
    obs, _ = env.reset()
    memory = AgentMemory()
    memory.observe(obs)
    instr = parse_mission(obs["mission"])
    if args.json:
        record = {
            "env_id": args.env,
            "seed": args.seed,
            "mission": obs["mission"],
            "instruction": _INSTRUCTION.dump_python(instr, mode="json"),
            "description": memory.describe(),
        }
        print(json.dumps(record))
        return 0
    print(f"{args.env}, seed {args.seed}")
    print(f"Mission: {obs['mission']}")
    print("Clauses in an order that satisfies it:")
    for number, clause in enumerate(clauses_in_order(instr), 1):
        print(f"  {number}. {clause.to_text()}")
    print("What the agent knows at the start:")
    print("  " + memory.describe().replace("\n", "\n  "))
    return 0


def _plan(args: argparse.Namespace) -> int:
    from foreman.planner import LlamaCppChat, LLMPlanner, PlanRequest, format_plan, vocabulary_specs
    from foreman.planner.weights import PACKAGED_MODELS

    observation, goal = "", args.goal
    if args.env:
        env = make_env(args.env, seed=args.seed)
        obs, _ = env.reset()
        memory = AgentMemory()
        memory.observe(obs)
        observation = memory.describe()
        goal = obs["mission"] if goal is None else goal
    if goal is None:
        print("foreman plan: give a GOAL, or --env to plan that env's own mission", file=sys.stderr)
        return 2
    specs = vocabulary_specs()
    planner = LLMPlanner(LlamaCppChat(model=PACKAGED_MODELS[args.model]))
    result = planner.plan(PlanRequest(goal=goal, skills=specs, observation=observation))
    record = {
        "goal": goal,
        "env_id": args.env,
        "seed": args.seed if args.env else None,
        "ok": result.plan is not None,
        "plan_text": format_plan(result.plan, specs) if result.plan else None,
        "latency_s": result.latency_s,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        **result.model_dump(mode="json"),
    }
    if args.json:
        print(json.dumps(record))
    elif result.plan is None:
        print(f"No plan: {result.failure}")
    else:
        print(f"Goal: {goal}")
        print(record["plan_text"])
        print(
            f"({result.latency_s:.2f} s, {result.prompt_tokens} prompt + "
            f"{result.completion_tokens} completion tokens, {len(result.attempts)} attempt(s))"
        )
    return 0 if result.plan is not None else 1


def _bench_planner(args: argparse.Namespace) -> int:
    from foreman.bench.planner import LEVELS, PlannerBenchConfig, run, run_paraphrases, table

    if args.level == "paraphrases":
        summaries = [run_paraphrases(args.model)]
    else:
        levels = [f"BabyAI-{lvl}-v0" for lvl in LEVELS] if args.level == "all" else [args.level]
        for level in levels:
            make_env(level)  # an unknown id fails here, before the model loads
        summaries = [
            run(PlannerBenchConfig(level=level, episodes=args.episodes, seed=args.seed, model=args.model))
            for level in levels
        ]
    if args.json:
        print(json.dumps([{k: v for k, v in s.items() if k != "per_episode"} for s in summaries]))
    else:
        print(table(summaries))
    return 0


def _run(args: argparse.Namespace) -> int:
    from foreman.orchestrator import Agent, describe_result
    from foreman.planner import LlamaCppChat, LLMPlanner
    from foreman.planner.weights import PACKAGED_MODELS
    from foreman.skills import SkillLibrary

    env = make_env(args.env)
    agent = Agent(LLMPlanner(LlamaCppChat(model=PACKAGED_MODELS[args.model])), SkillLibrary())
    result = agent.run(env, goal=args.goal, seed=args.seed)
    print(result.model_dump_json() if args.json else describe_result(result))
    return 0 if result.success else 1


def _skills_list(args: argparse.Namespace) -> int:
    from foreman.skills import SkillLibrary

    cards = (SkillLibrary(args.library) if args.library else SkillLibrary()).cards()
    if args.json:
        print(json.dumps([c.model_dump(mode="json") for c in cards]))
        return 0
    for card in cards:
        success = (
            f"{card.evaluation.success_rate:.1%} on {card.evaluation.env_id}" if card.evaluation else "not evaluated"
        )
        print(f"{card.name} {card.version} ({card.subgoal}): {card.description} [{success}]")
    return 0


def _train(args: argparse.Namespace) -> int:
    import dataclasses

    import torch

    from foreman.skills.train import TrainConfig, train

    torch.set_num_threads(1)  # one thread per process trained fastest on this kind of machine
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if f.name != "skill" and getattr(args, f.name, None) is not None
    }
    card = train(TrainConfig(skill=args.skill, **overrides))
    print(
        json.dumps(card.model_dump(mode="json"))
        if args.json
        else (
            f"{card.name}: {card.evaluation.success_rate:.1%} success on {card.evaluation.episodes} held-out "
            f"episodes of {card.evaluation.env_id} ({card.training.demos} demos, {card.training.frames} frames, "
            f"{card.training.minutes:.1f} min)"
        )
    )
    return 0


def _bench_agent(args: argparse.Namespace) -> int:
    from foreman.bench.agent import AgentBenchConfig, run, table

    make_env(args.level)  # an unknown id fails here, before the model loads
    summary = run(AgentBenchConfig(level=args.level, episodes=args.episodes, seed=args.seed, model=args.model))
    print(json.dumps({k: v for k, v in summary.items() if k != "per_episode"}) if args.json else table([summary]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="foreman", description="A language model plans, reinforcement-learned skills execute."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    commands = parser.add_subparsers(dest="command", required=True)

    envs = commands.add_parser("envs", help="list the registered env ids")
    envs.add_argument("--prefix", help="only ids starting with this, e.g. Foreman-")
    envs.add_argument("--json", action="store_true")
    envs.set_defaults(handler=_envs)

    parse = commands.add_parser("parse", help="parse a BabyAI mission into its instruction tree")
    parse.add_argument("mission")
    parse.add_argument("--json", action="store_true")
    parse.set_defaults(handler=_parse)

    describe = commands.add_parser(
        "describe", help="an env's mission, its clauses, and what the agent sees at the start"
    )
    describe.add_argument("--env", default="BabyAI-BossLevel-v0")
    describe.add_argument("--seed", type=int, default=1)
    describe.add_argument("--json", action="store_true")
    describe.set_defaults(handler=_describe)

    models = ["qwen2.5-coder-1.5b-instruct-q4_k_m", "qwen2.5-coder-0.5b-instruct-q4_k_m"]
    plan = commands.add_parser("plan", help="plan a goal with the default language model")
    plan.add_argument("goal", nargs="?", help="the goal in words (default: the env's own mission)")
    plan.add_argument("--env", help="describe this env's first observation to the planner")
    plan.add_argument("--seed", type=int, default=0)
    plan.add_argument("--model", choices=models, default=models[0])
    plan.add_argument("--json", action="store_true")
    plan.set_defaults(handler=_plan)

    run = commands.add_parser("run", help="one episode: the agent plans and its skills act")
    run.add_argument("goal", nargs="?", help="the goal in words (default: the env's own mission)")
    run.add_argument("--env", default="BabyAI-GoToLocal-v0")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--model", choices=models, default=models[0])
    run.add_argument("--json", action="store_true")
    run.set_defaults(handler=_run)

    skills = commands.add_parser("skills", help="the skill library")
    skill_commands = skills.add_subparsers(dest="skills_command", required=True)
    listing = skill_commands.add_parser("list", help="every skill's card")
    listing.add_argument("--library", type=Path, help="a library folder (default: the built-in one)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_skills_list)

    train = commands.add_parser("train", help="train one skill (behaviour cloning from bot demos)")
    train.add_argument("skill", choices=["go_to", "pick_up", "open", "put_next"])
    train.add_argument("--env-id", dest="env_id")
    train.add_argument("--demos", type=int)
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-episodes", dest="batch_episodes", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--hidden", type=int)
    train.add_argument("--seed", type=int)
    train.add_argument("--eval-episodes", dest="eval_episodes", type=int)
    train.add_argument("--eval-seed", dest="eval_seed", type=int)
    train.add_argument("--ppo-frames", dest="ppo_frames", type=int)
    train.add_argument("--ppo-envs", dest="ppo_envs", type=int)
    train.add_argument("--library", type=Path)
    train.add_argument("--logdir", type=Path)
    train.add_argument("--json", action="store_true")
    train.set_defaults(handler=_train)

    bench = commands.add_parser("bench", help="benchmarks (JSON in bench/results and a table)")
    suites = bench.add_subparsers(dest="suite", required=True)
    planner = suites.add_parser("planner", help="exact decomposition accuracy, latency, tokens")
    planner.add_argument(
        "--level",
        default="BabyAI-BossLevel-v0",
        help="an env id, 'all' (six BabyAI levels) or 'paraphrases' (bench/paraphrases.jsonl)",
    )
    planner.add_argument("--episodes", type=int, default=100)
    planner.add_argument("--seed", type=int, default=1_000_000)
    planner.add_argument("--model", choices=models, default=models[0])
    planner.add_argument("--json", action="store_true")
    planner.set_defaults(handler=_bench_planner)
    agent = suites.add_parser("agent", help="the whole agent: success, steps, LLM calls, time")
    agent.add_argument("--level", default="BabyAI-GoToLocal-v0")
    agent.add_argument("--episodes", type=int, default=100)
    agent.add_argument("--seed", type=int, default=2_000_000)
    agent.add_argument("--model", choices=models, default=models[0])
    agent.add_argument("--json", action="store_true")
    agent.set_defaults(handler=_bench_agent)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.handler(args)
    except ForemanError as error:
        print(f"foreman {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
