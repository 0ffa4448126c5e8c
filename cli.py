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

PLANNER_KINDS = ("llm", "base", "saycan")
"""planner.builtin.PLANNER_KINDS, spelled out so that building the parser imports no model code"""

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
    from foreman.planner import PlanRequest, format_plan, vocabulary_specs
    from foreman.planner.builtin import builtin_planner

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
    planner = builtin_planner(args.planner, base_model=args.model, **_adapter(args))
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
    from dataclasses import replace

    from foreman.bench.planner import LEVELS, PlannerBenchConfig, run, run_paraphrases, table

    config = PlannerBenchConfig(
        episodes=args.episodes, seed=args.seed, planner=args.planner, model=args.model, **_adapter(args)
    )
    if args.level == "paraphrases":
        summaries = [run_paraphrases(config, args.goals)]
    else:
        levels = [f"BabyAI-{lvl}-v0" for lvl in LEVELS] if args.level == "all" else [args.level]
        for level in levels:
            make_env(level)  # an unknown id fails here, before the model loads
        summaries = [run(replace(config, level=level)) for level in levels]
    if args.json:
        print(json.dumps([{k: v for k, v in s.items() if k != "per_episode"} for s in summaries]))
    else:
        print(table(summaries))
    return 0


def _write_gif(frames: list, path: Path) -> None:
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=120, loop=0)


def _run(args: argparse.Namespace) -> int:
    import time

    from foreman.orchestrator import Agent, describe_result
    from foreman.planner.builtin import builtin_planner
    from foreman.skills import SkillLibrary
    from foreman.traces import TraceWriter, read_trace
    from foreman.traces.replay import replay

    if args.env is None and args.goal is not None:
        from foreman.envs.levels import find_level

        args.env, args.seed = find_level(args.goal, first_seed=args.seed)
        print(f"Running the goal in {args.env}, seed {args.seed}, whose mission it is.", file=sys.stderr)
    args.env = args.env or "BabyAI-GoToLocal-v0"
    env = make_env(args.env)
    trace_path = args.trace or Path("runs/run") / f"{time.strftime('%Y%m%d-%H%M%S')}_{args.env}_{args.seed}.jsonl"
    agent = Agent(builtin_planner(args.planner, base_model=args.model, **_adapter(args)), SkillLibrary())
    with TraceWriter(trace_path) as trace:
        result = agent.run(env, goal=args.goal, seed=args.seed, trace=trace)
    if args.gif:
        episode = [e for e in read_trace(trace_path).events if e.episode == 0]
        _write_gif(replay(episode, frames=True, every_step=True).frames, args.gif)
    print(result.model_dump_json() if args.json else describe_result(result) + f"\nTrace: {trace_path}")
    return 0 if result.success else 1


def _eval_config(args: argparse.Namespace):
    from foreman.bench.agent import EvalConfig

    if args.goals is None and args.suite is None:
        make_env(args.env)  # an unknown id fails here, before the model loads
    return EvalConfig(
        env_id=args.env,
        episodes=args.episodes_per_task if args.suite else args.episodes,
        suite=args.suite,
        split=args.split,
        seed=args.seed,
        goals=args.goals,
        planner=args.planner,
        skills=args.skills,
        baseline=args.baseline,
        model=args.model,
        max_replans=args.max_replans,
        **_adapter(args),
        fault_rate=args.fault_rate,
        out=args.out,
        resume=args.resume,
        trace=args.trace,
    )


def _eval(args: argparse.Namespace) -> int:
    from foreman.bench.agent import run, table

    config = _eval_config(args)
    summaries = run(config, progress=not args.json)
    if args.json:
        print(json.dumps(summaries if len(summaries) > 1 else summaries[0]))
    else:
        print(table(summaries))
        print(f"Episodes, trace and summary: {config.folder()}")
    return 0


def _trace_events(path: Path):
    from foreman.traces import TraceError, read_trace

    read = read_trace(path)
    for problem in read.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if not read.events:
        raise TraceError(f"{path} holds no readable event")
    return read


def _trace_replay(args: argparse.Namespace) -> int:
    from foreman.traces import episodes
    from foreman.traces.replay import replay

    grouped = episodes(_trace_events(args.trace).events)
    chosen = [args.episode] if args.episode is not None else list(grouped)
    if args.episode is not None and args.episode not in grouped:
        raise ForemanError(f"{args.trace} has no episode {args.episode}; it has {min(grouped)}..{max(grouped)}")
    results = []
    for number in chosen:
        replayed = replay(grouped[number], frames=bool(args.gif), every_step=True)
        if args.gif:
            _write_gif(replayed.frames, args.gif)
        results.append(
            {"episode": number, "matches": replayed.matches, "mismatches": replayed.mismatches, "steps": replayed.steps}
        )
    matched = sum(r["matches"] for r in results)
    if args.json:
        print(json.dumps({"episodes": len(results), "reproduced": matched, "per_episode": results}))
    else:
        for r in results:
            print(f"episode {r['episode']}: " + ("reproduced" if r["matches"] else "; ".join(r["mismatches"])))
        print(f"{matched}/{len(results)} episodes reproduced")
    return 0 if matched == len(results) else 1


def _trace_summary(args: argparse.Namespace) -> int:
    from foreman.traces.summary import summary

    events = []
    for number, path in enumerate(args.traces):
        for event in _trace_events(path).events:
            events.append(event.model_copy(update={"episode": number * 1_000_000 + event.episode}))
    result = summary(events)
    print(json.dumps(result) if args.json else json.dumps(result, indent=1))
    return 0


def _trace_html(args: argparse.Namespace) -> int:
    from foreman.traces.html import render_html

    read = _trace_events(args.trace)
    args.output.write_text(render_html(read.events, read.problems, frames=not args.no_frames, title=args.trace.name))
    print(f"wrote {args.output}")
    return 0


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


def _skills_eval(args: argparse.Namespace) -> int:
    from foreman.skills import SkillLibrary
    from foreman.skills.train import evaluate

    library = SkillLibrary(args.library) if args.library else SkillLibrary()
    skill = library.load(args.name)
    env_id = args.env or (skill.card.evaluation.env_id if skill.card.evaluation else skill.card.training.env_id)
    make_env(env_id)
    result = evaluate(skill, env_id, range(args.seed, args.seed + args.episodes), workers=args.workers)
    record = {"skill": skill.name, **result.model_dump(mode="json")}
    if args.write_card:
        library.save(skill.network, skill.card.model_copy(update={"evaluation": result}))
    if args.json:
        print(json.dumps(record))
    else:
        print(
            f"{skill.name}: {result.success_rate:.1%} success on {result.episodes} episodes of {env_id} "
            f"(seeds {args.seed}..{args.seed + args.episodes - 1}), {result.mean_steps:.1f} steps on average"
        )
    return 0


def _skills_fit_critic(args: argparse.Namespace) -> int:
    from foreman.skills import SkillLibrary
    from foreman.skills.critic import CriticConfig, fit_critic

    library = SkillLibrary(args.library) if args.library else SkillLibrary()
    skill = library.load(args.name)
    options = {k: getattr(args, k) for k in ("episodes", "held_out", "seed", "workers") if getattr(args, k) is not None}
    fit = fit_critic(skill, skill.card.training.env_id, CriticConfig(**options))
    training = skill.card.training.model_copy(update={"critic": fit})
    library.save(skill.network, skill.card.model_copy(update={"training": training}))
    print(
        fit.model_dump_json()
        if args.json
        else f"{skill.name}: critic fitted on {fit.states} states of {fit.episodes} episodes "
        f"({fit.success_rate:.1%} succeeded); on {fit.held_out_episodes} held-out episodes the first-step value "
        f"has Brier score {fit.brier:.3f} (always {fit.success_rate:.2f}: {fit.brier_of_base_rate:.3f})"
    )
    return 0


def _train(args: argparse.Namespace) -> int:
    import dataclasses

    import torch

    from foreman.skills.train import TrainConfig, train

    torch.set_num_threads(1)  # one thread per process trained fastest; cloning uses one per worker
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


def _finetune_data(args: argparse.Namespace) -> int:
    from foreman.planner.tuning.data import DataRecipe, generate

    out = args.output.open("w") if args.output else sys.stdout
    for example in generate(DataRecipe(examples=args.examples, seed=args.seed)):
        out.write(example.model_dump_json() + "\n")
    if args.output:
        out.close()
    return 0


def _level_weights(text: str) -> dict[str, float]:
    """``ENV=WEIGHT,ENV=WEIGHT`` -> {env: weight}; argparse reports a ValueError as a usage error."""
    weights = {}
    for part in text.split(","):
        env_id, _, weight = part.partition("=")
        weights[env_id.strip()] = float(weight)
    return weights


def _finetune_sft(args: argparse.Namespace) -> int:
    from foreman.planner.tuning.adapter import install_adapter
    from foreman.planner.tuning.data import DataRecipe
    from foreman.planner.tuning.sft import SFTConfig, train_sft

    recipe = DataRecipe(
        **{
            k: getattr(args, k)
            for k in ("examples", "seed", "levels", "replan_fraction", "barred_fraction")
            if getattr(args, k) is not None
        },
    )
    options = ("name", "epochs", "batch_size", "lr", "rank", "alpha", "threads", "out", "init_adapter")
    config = SFTConfig(data=recipe, **{k: getattr(args, k) for k in options if getattr(args, k) is not None})
    card = train_sft(config, progress=not args.json)
    installed = install_adapter(config.out) if args.install else None
    print(
        card.model_dump_json()
        if args.json
        else f"{card.name}: {card.training['steps']} steps on {card.training['examples']} examples "
        f"({card.training['tokens']} tokens), final loss {card.training['final_loss']:.3f}, written to {config.out}"
        + (f" and installed in {installed}" if installed else "")
    )
    return 0


def _finetune_goals(args: argparse.Namespace) -> int:
    from foreman.planner.tuning.outcomes import OutcomeConfig, unlabeled_goals
    from foreman.planner.tuning.rewording import default_rewriter

    goals = unlabeled_goals(OutcomeConfig(goals=args.goals, seed=args.seed), default_rewriter())
    out = args.output.open("w") if args.output else sys.stdout
    for goal in goals:
        out.write(json.dumps({"env_id": goal.env_id, "seed": goal.seed, "goal": goal.goal, "mission": goal.mission}))
        out.write("\n")
    if args.output:
        out.close()
    return 0


def _finetune_outcomes(args: argparse.Namespace) -> int:
    from foreman.orchestrator import Agent, AgentConfig
    from foreman.planner.builtin import DEFAULT_ADAPTER
    from foreman.planner.fixed import FixedPlanner
    from foreman.planner.tuning.adapter import install_adapter
    from foreman.planner.tuning.outcomes import OutcomeConfig, train_outcomes
    from foreman.planner.tuning.sft import SFTConfig
    from foreman.skills import SkillLibrary

    agent = Agent(FixedPlanner([]), SkillLibrary())
    envs: dict = {}

    def rollout(env_id: str, seed: int, goal: str, plans: list) -> tuple:
        """The plans executed in turn, one per replan request (no replan beyond them)."""
        agent.planner = FixedPlanner(plans[0], plans[1:])
        agent.config = AgentConfig(max_replans=len(plans))
        success = agent.run(envs.setdefault(env_id, make_env(env_id)), goal=goal, seed=seed).success
        return success, agent.planner.unanswered

    config = OutcomeConfig(
        **{
            k: getattr(args, k)
            for k in (
                "goals",
                "seed",
                "samples",
                "temperature",
                "proposals",
                "greedy_repeats",
                "correction_repeats",
                "replay_fraction",
                "replans",
                "replan_samples",
                "greedy_revision_repeats",
            )
            if getattr(args, k) is not None
        }
    )
    sft = SFTConfig(lr=args.lr, out=args.out)
    adapter = args.adapter or DEFAULT_ADAPTER
    card = train_outcomes(config, sft, adapter, rollout, progress=not args.json, scored=args.scored)
    installed = install_adapter(sft.out) if args.install else None
    outcomes = card.data["outcomes"]
    print(
        card.model_dump_json()
        if args.json
        else f"{outcomes['goals']} reworded goals: greedy plan succeeded {outcomes['greedy_success']:.1%}, "
        f"some sampled plan {outcomes['any_success']:.1%}; trained on {outcomes['examples']} examples "
        f"(final loss {card.training['final_loss']:.3f}); written to {sft.out}"
        + (f" and installed in {installed}" if installed else "")
    )
    return 0


def _bench_skills(args: argparse.Namespace) -> int:
    from foreman.bench.skills import SkillBenchConfig, run, table

    rows = run(SkillBenchConfig(episodes=args.episodes, seed=args.seed, workers=args.workers))
    print(json.dumps(rows) if args.json else table(rows))
    return 0


def _bench_ppo(args: argparse.Namespace) -> int:
    from foreman.bench.ppo_throughput import ThroughputConfig, run, table

    result = run(ThroughputConfig(skill=args.skill, frames=args.frames, workers=args.workers))
    print(json.dumps(result) if args.json else table(result))
    return 0


def _bench_agent(args: argparse.Namespace) -> int:
    from foreman.bench.agent import bench, table

    summaries = bench(_eval_config(args))
    print(
        json.dumps([{k: v for k, v in s.items() if k != "per_episode"} for s in summaries])
        if args.json
        else table(summaries)
    )
    return 0


def _bench_paired(args: argparse.Namespace) -> int:
    from foreman.bench.paired import compare, describe

    result = compare(args.before, args.after)
    print(json.dumps(result) if args.json else describe(result))
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
    _planner_kinds(plan, models)
    plan.add_argument("--json", action="store_true")
    plan.set_defaults(handler=_plan)

    run = commands.add_parser("run", help="one episode: the agent plans and its skills act")
    run.add_argument("goal", nargs="?", help="the goal in words (default: the env's own mission)")
    run.add_argument("--env", help="level (default: one whose mission is GOAL; GoToLocal without a GOAL)")
    run.add_argument("--seed", type=int, default=0, help="the seed (without --env: the first seed searched)")
    _planner_kinds(run, models)
    run.add_argument("--trace", type=Path, help="trace file (default: runs/run/<time>_<env>_<seed>.jsonl)")
    run.add_argument("--gif", type=Path, help="write the episode as an animated GIF")
    run.add_argument("--json", action="store_true")
    run.set_defaults(handler=_run)

    skills = commands.add_parser("skills", help="the skill library")
    skill_commands = skills.add_subparsers(dest="skills_command", required=True)
    listing = skill_commands.add_parser("list", help="every skill's card")
    listing.add_argument("--library", type=Path, help="a library folder (default: the built-in one)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=_skills_list)
    skill_eval = skill_commands.add_parser("eval", help="a skill's success on seeds of its evaluation level")
    skill_eval.add_argument("name")
    skill_eval.add_argument("--episodes", type=int, default=100)
    skill_eval.add_argument("--seed", type=int, default=10_000_000)
    skill_eval.add_argument("--env", help="level (default: the one on the skill's card)")
    skill_eval.add_argument("--workers", type=int, default=1)
    skill_eval.add_argument("--library", type=Path, help="a library folder (default: the built-in one)")
    skill_eval.add_argument(
        "--write-card", dest="write_card", action="store_true", help="store it as the card's evaluation"
    )
    skill_eval.add_argument("--json", action="store_true")
    skill_eval.set_defaults(handler=_skills_eval)

    critic = skill_commands.add_parser(
        "fit-critic", help="fit a skill's value to its own outcomes (an affordance score); the policy is unchanged"
    )
    critic.add_argument("name")
    critic.add_argument("--episodes", type=int, help="episodes that train the critic (default 400)")
    critic.add_argument("--held-out", dest="held_out", type=int, help="episodes that measure it (default 100)")
    critic.add_argument("--seed", type=int, help="first episode seed (default 30,000,000)")
    critic.add_argument("--workers", type=int)
    critic.add_argument("--library", type=Path, help="a library folder (default: the built-in one)")
    critic.add_argument("--json", action="store_true")
    critic.set_defaults(handler=_skills_fit_critic)

    train = commands.add_parser("train", help="train one skill (behaviour cloning from bot demos)")
    train.add_argument("skill", choices=["go_to", "pick_up", "open", "put_next"])
    train.add_argument("--env-id", dest="env_id")
    train.add_argument("--demos", type=int)
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch", type=int, help="frames per gradient step")
    train.add_argument("--workers", type=int, help="processes collecting demos and evaluating")
    train.add_argument("--lr", type=float)
    train.add_argument("--hidden", type=int)
    train.add_argument("--seed", type=int)
    train.add_argument("--eval-episodes", dest="eval_episodes", type=int)
    train.add_argument("--eval-seed", dest="eval_seed", type=int)
    train.add_argument("--dagger-episodes", dest="dagger_episodes", type=int)
    train.add_argument("--dagger-epochs", dest="dagger_epochs", type=int)
    train.add_argument(
        "--dagger-max-steps", dest="dagger_max_steps", type=int, help="steps after which a DAgger episode stops"
    )
    train.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        help="cloning in bfloat16 autocast (default: where the CPU computes bfloat16 natively)",
    )
    train.add_argument("--ppo-frames", dest="ppo_frames", type=int)
    train.add_argument("--ppo-envs", dest="ppo_envs", type=int)
    train.add_argument("--critic-episodes", dest="critic_episodes", type=int, help="0: leave the critic unfitted")
    train.add_argument("--library", type=Path)
    train.add_argument("--logdir", type=Path)
    train.add_argument("--json", action="store_true")
    train.set_defaults(handler=_train)

    finetune = commands.add_parser("finetune", help="fine-tune the planner (data, supervised LoRA)")
    finetune_commands = finetune.add_subparsers(dest="finetune_command", required=True)
    data = finetune_commands.add_parser("data", help="write the generated (request, plan) examples as JSON lines")
    data.add_argument("--examples", type=int, default=1000)
    data.add_argument("--seed", type=int, default=10_000_000)
    data.add_argument("-o", "--output", type=Path, help="file (default: stdout)")
    data.set_defaults(handler=_finetune_data)
    sft = finetune_commands.add_parser("sft", help="LoRA fine-tuning on generated examples (resumable)")
    sft.add_argument("--examples", type=int, help="examples in the data recipe (default 1000)")
    sft.add_argument("--seed", type=int, help="the data recipe's first env seed (default 10,000,000)")
    sft.add_argument(
        "--levels",
        type=_level_weights,
        help="the recipe's mix of levels, ENV=WEIGHT,... (default: planner/tuning/data.py's LEVEL_WEIGHTS)",
    )
    sft.add_argument("--replan-fraction", dest="replan_fraction", type=float, help="replan examples (default 0.12)")
    sft.add_argument(
        "--barred-fraction",
        dest="barred_fraction",
        type=float,
        help="of replan examples failing a non-door subgoal: failed behind a locked door (default 0)",
    )
    sft.add_argument("--init-adapter", dest="init_adapter", type=Path, help="train this adapter further")
    sft.add_argument("--name")
    sft.add_argument("--epochs", type=int)
    sft.add_argument("--batch", dest="batch_size", type=int)
    sft.add_argument("--lr", type=float)
    sft.add_argument("--rank", type=int)
    sft.add_argument("--alpha", type=float)
    sft.add_argument("--threads", type=int)
    sft.add_argument(
        "--out", type=Path, help="run folder: checkpoint, tensorboard, adapter (default runs/finetune/sft)"
    )
    sft.add_argument("--install", action="store_true", help="copy the adapter into planner/adapters/ (the default)")
    sft.add_argument("--json", action="store_true")
    sft.set_defaults(handler=_finetune_sft)
    reworded = finetune_commands.add_parser(
        "goals", help="missions reworded by the untuned 1.5B model, as JSON lines for `foreman eval --goals`"
    )
    reworded.add_argument("--goals", type=int, default=100)
    reworded.add_argument("--seed", type=int, default=12_000_000)
    reworded.add_argument("-o", "--output", type=Path, help="file (default: stdout)")
    reworded.set_defaults(handler=_finetune_goals)
    outcomes = finetune_commands.add_parser(
        "outcomes", help="reinforcement from outcomes: sample plans for reworded goals, keep what succeeds, train"
    )
    outcomes.add_argument("--goals", type=int, help="unlabeled goals (default 150)")
    outcomes.add_argument("--seed", type=int, help="their first env seed (default 11,000,000)")
    outcomes.add_argument("--samples", type=int, help="plans sampled where the greedy one failed (default 8)")
    outcomes.add_argument("--temperature", type=float, help="their sampling temperature (default 1.5)")
    outcomes.add_argument(
        "--proposals", type=int, help="plans of the untuned 1.5B where the greedy one failed (default 3; 0: none)"
    )
    outcomes.add_argument(
        "--greedy-repeats",
        type=int,
        help="times a successful greedy plan is trained on (default 1; 0: corrections only)",
    )
    outcomes.add_argument(
        "--correction-repeats",
        type=int,
        help="times a sampled plan that succeeded where the greedy one failed is trained on (default 3)",
    )
    outcomes.add_argument(
        "--replay-fraction", type=float, help="replayed generated examples per outcome example (default 0.5)"
    )
    outcomes.add_argument(
        "--replans",
        action="store_true",
        default=None,
        help="where the greedy plan failed, explore revisions at the first replan request (default off)",
    )
    outcomes.add_argument(
        "--replan-samples", type=int, help="revisions sampled there besides the greedy one (default 2)"
    )
    outcomes.add_argument(
        "--greedy-revision-repeats",
        type=int,
        help="times a greedy revision that succeeded at the replan request is trained on (default 1)",
    )
    outcomes.add_argument("--scored", type=Path, help="goals.jsonl of an earlier run: keep its goals and plans")
    outcomes.add_argument("--lr", type=float, default=2e-4)
    outcomes.add_argument("--adapter", type=Path, help="the adapter to improve (default: the built-in one)")
    outcomes.add_argument("--out", type=Path, default=Path("runs/finetune/outcomes"))
    outcomes.add_argument("--install", action="store_true", help="replace the built-in adapter with the result")
    outcomes.add_argument("--json", action="store_true")
    outcomes.set_defaults(handler=_finetune_outcomes)

    bench = commands.add_parser("bench", help="benchmarks (JSON in bench/results and a table)")
    suites = bench.add_subparsers(dest="suite", required=True)
    planner = suites.add_parser("planner", help="exact decomposition accuracy, latency, tokens")
    planner.add_argument(
        "--level",
        default="BabyAI-BossLevel-v0",
        help="an env id, 'all' (six BabyAI levels) or 'paraphrases' (--goals)",
    )
    planner.add_argument(
        "--goals",
        type=Path,
        default=Path(__file__).parent / "bench" / "paraphrases.jsonl",
        help='with --level paraphrases: JSON lines {"goal", "means" or "mission"} (default bench/paraphrases.jsonl)',
    )
    planner.add_argument("--episodes", type=int, default=100)
    planner.add_argument("--seed", type=int, default=1_000_000)
    _planner_kinds(planner, models)
    planner.add_argument("--json", action="store_true")
    planner.set_defaults(handler=_bench_planner)
    skills = suites.add_parser("skills", help="every shipped skill on held-out seeds, with its training cost")
    skills.add_argument("--episodes", type=int, default=500)
    skills.add_argument("--seed", type=int, default=20_000_000)
    skills.add_argument("--workers", type=int, default=2)
    skills.add_argument("--json", action="store_true")
    skills.set_defaults(handler=_bench_skills)
    ppo = suites.add_parser("ppo", help="PPO training throughput beside Stable-Baselines3 (same network and level)")
    ppo.add_argument("--skill", default="go_to", choices=["go_to", "pick_up", "open", "put_next"])
    ppo.add_argument("--frames", type=int, default=16_384, help="a multiple of 1024 (16 envs x 64 steps)")
    ppo.add_argument("--workers", type=int, default=2, help="foreman's sampling processes; both learners' threads")
    ppo.add_argument("--json", action="store_true")
    ppo.set_defaults(handler=_bench_ppo)
    agent = suites.add_parser("agent", help="foreman eval, with its summaries kept under bench/results")
    agent.add_argument("--level", "--env", dest="env", default="BabyAI-GoToLocal-v0")
    _eval_arguments(agent, models)
    agent.set_defaults(handler=_bench_agent)
    paired = suites.add_parser("paired", help="two evals of the same episodes: which changed, McNemar's exact test")
    paired.add_argument("before", type=Path, help="an eval run folder (or its episodes.jsonl)")
    paired.add_argument("after", type=Path)
    paired.add_argument("--json", action="store_true")
    paired.set_defaults(handler=_bench_paired)

    evaluate = commands.add_parser("eval", help="many episodes: success with 95%% intervals, steps, calls, causes")
    evaluate.add_argument("--env", default="BabyAI-GoToLocal-v0")
    _eval_arguments(evaluate, models)
    evaluate.set_defaults(handler=_eval)

    trace = commands.add_parser("trace", help="replay, summarise or render a planning trace")
    trace_commands = trace.add_subparsers(dest="trace_command", required=True)
    replay = trace_commands.add_parser("replay", help="re-run recorded actions and check the env ends the same")
    replay.add_argument("trace", type=Path)
    replay.add_argument("--episode", type=int)
    replay.add_argument("--gif", type=Path, help="write the (last) replayed episode as an animated GIF")
    replay.add_argument("--json", action="store_true")
    replay.set_defaults(handler=_trace_replay)
    summarise = trace_commands.add_parser("summary", help="success, calls, replans, failure causes")
    summarise.add_argument("traces", type=Path, nargs="+")
    summarise.add_argument("--json", action="store_true")
    summarise.set_defaults(handler=_trace_summary)
    report = trace_commands.add_parser("html", help="a self-contained HTML report with plans, timeline, frames")
    report.add_argument("trace", type=Path)
    report.add_argument("-o", "--output", type=Path, default=Path("report.html"))
    report.add_argument("--no-frames", dest="no_frames", action="store_true")
    report.set_defaults(handler=_trace_html)
    return parser


def _eval_arguments(parser: argparse.ArgumentParser, models: list[str]) -> None:
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=2_000_000)
    parser.add_argument("--goals", type=Path, help='JSON lines {"env_id", "seed", "goal"}: these episodes instead')
    parser.add_argument("--suite", choices=["balrog-babyai"], help="BALROG's BabyAI protocol, per task kind")
    parser.add_argument("--split", choices=["train", "test"], default="train", help="the suite's split")
    parser.add_argument("--episodes-per-task", dest="episodes_per_task", type=int, default=10)
    parser.add_argument("--model", choices=models, default=models[0], help="the model of --planner base")
    _agent_kinds(parser)
    parser.add_argument("--max-replans", dest="max_replans", type=int, default=3, help="0 turns replanning off")
    parser.add_argument("--fault-rate", dest="fault_rate", type=float, default=0.0, help="injected skill faults")
    parser.add_argument("--out", type=Path, help="run folder (default: runs/eval/<from the options>)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted eval in its run folder")
    parser.add_argument("--trace", type=Path, help="trace file (default: trace.jsonl in the run folder)")
    parser.add_argument("--json", action="store_true")


def _planner_kinds(parser: argparse.ArgumentParser, models: list[str]) -> None:
    parser.add_argument(
        "--planner",
        choices=PLANNER_KINDS,
        default="llm",
        help="llm: fine-tuned (default); base: untuned --model; saycan: fine-tuned model scoring candidate calls",
    )
    parser.add_argument("--model", choices=models, default=models[0], help="the model of --planner base")
    _adapter_option(parser)


def _adapter_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adapter", type=Path, help="the LoRA adapter of --planner llm or saycan (default: shipped)")


def _adapter(args: argparse.Namespace) -> dict:
    """``adapter=`` for a planner or config where --adapter was given; the shipped one otherwise."""
    return {"adapter": args.adapter} if args.adapter else {}


def _agent_kinds(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--planner",
        choices=[*PLANNER_KINDS, "reference"],
        default="llm",
        help="llm: fine-tuned (default); base: untuned --model, few-shot; saycan: candidate calls scored by the "
        "fine-tuned model times the skills' affordances; reference: privileged ablation",
    )
    parser.add_argument("--skills", choices=["learned", "bot"], default="learned", help="bot: privileged ablation")
    _adapter_option(parser)
    parser.add_argument("--baseline", choices=["bot"], help="the bot alone on the mission (upper bound)")


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
