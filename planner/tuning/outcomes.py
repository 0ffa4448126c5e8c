"""Reinforcement from outcomes: expert iteration on goals that have no labels.

1. Goals without labels: each env mission is reworded freely by an untuned language model
   (``prompts/reword_goal.txt``, sampled), so nobody knows the right plan for the words it wrote.
   Rewordings that lose the mission's meaning (:func:`keeps_meaning`) are drawn again.
2. The fine-tuned planner's greedy plan is executed by the caller's ``rollout`` (the orchestrator
   with the learned skills, no replanning) and scored by the env's own success on its mission;
   where it fails, ``samples`` more plans are sampled from the model's whole distribution (see
   :attr:`OutcomeConfig.full_distribution`) and each distinct one is executed, and so are
   ``proposals`` plans of a second planner (the untuned 1.5B, few-shot): the fine-tuned model is
   so sure of itself that even its uncut samples seldom differ from its greedy plan.
3. Replanning, where the greedy plan failed (``replans`` > 0): the episode is run to the
   orchestrator's first replan request (the history of what happened, what the agent sees), and
   the planner's greedy revision, its samples and the first plan's subgoals in other orders
   (:func:`reorderings`, only where every subgoal succeeded and still the goal is not achieved) are
   each executed from there. Replanning after failures has no labels at all: the env's reward is the
   only teacher.
4. The adapter is trained further, by the supervised loss, on the plans that succeeded (the
   shortest per goal; a sampled plan that succeeded where the greedy one failed counts
   ``correction_repeats`` times, a revision that succeeded where the greedy revision failed
   ``replan_repeats`` times), mixed with examples of the original recipe so it keeps what it knew.

This is rejection-sampling fine-tuning (expert iteration), a policy-improvement step whose only
signal is the environment's reward. The planner floor knows nothing of skills or the orchestrator:
``rollout`` is passed in.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import gymnasium as gym

from foreman.envs import Subgoal, make_env
from foreman.planner.llm import LLMPlanner, PlanRequest
from foreman.planner.plan import PlanParser, format_plan
from foreman.planner.tuning.data import DataRecipe, PlanExample, generate, level_weights, library_specs
from foreman.planner.tuning.rewording import default_rewriter, keeps_meaning, reword
from foreman.planner.tuning.sft import SFTConfig

Rollout = Callable[[str, int, str, list[list[Subgoal]]], tuple[bool, PlanRequest | None]]
"""(env_id, seed, goal, plans) -> whether the env judged its mission done, and the first replan
request that ``plans`` left unanswered (``plans[0]`` is the first plan, the rest answer the
orchestrator's replan requests in turn)"""

OUTCOME_LEVELS: dict[str, float] = {
    "BabyAI-BossLevel-v0": 0.45,
    "BabyAI-SynthSeq-v0": 0.2,
    "Foreman-MixedTrainLocal-v0": 0.2,
    "BabyAI-GoToSeq-v0": 0.15,
}


FULL_DISTRIBUTION = {"top_k": 0, "top_p": 1.0, "min_p": 0.0}
"""llama.cpp sampling options that cut nothing: temperature alone shapes the distribution"""


@dataclass(frozen=True)
class OutcomeConfig:
    goals: int = 150
    """unlabeled goals: missions reworded by the untuned 1.5B model"""
    seed: int = 11_000_000
    """env seeds ``seed`` .. ``seed + goals - 1``: apart from the SFT recipe's and the benchmarks'"""
    samples: int = 8
    """plans sampled for a goal whose greedy plan failed"""
    temperature: float = 1.5
    """their sampling temperature"""
    proposals: int = 3
    """plans from the proposer (greedy, then sampled at ``proposal_temperature``) where the greedy
    plan failed"""
    proposal_temperature: float = 0.7
    full_distribution: bool = True
    """sample from every token the grammar admits (no top-k, top-p or min-p cut); llama.cpp's
    defaults (top-p 0.95, min-p 0.05) keep only the best token wherever the model is over 95% sure,
    so a tuned model's samples, at any temperature, hardly differ from its greedy plan"""
    reword_attempts: int = 3
    """rewordings drawn per mission until one keeps its meaning; a mission without one is left out"""
    correction_repeats: int = 3
    """times a sampled plan that succeeded where the greedy one failed is trained on"""
    greedy_repeats: int = 1
    """times a goal whose greedy plan succeeded counts; 0 trains on corrections (and replay) only, so
    that plans which succeeded by an execution's luck are not reinforced"""
    levels: dict[str, float] = field(default_factory=lambda: dict(OUTCOME_LEVELS), metadata={"parse": level_weights})
    """the mix of levels the goals' missions come from, ENV=WEIGHT,..."""
    replay_fraction: float = 0.5
    """examples of the SFT recipe mixed in per outcome example (repeats counted)"""
    replans: bool = False
    """explore replanning where the greedy plan failed (see :func:`score_replans`)"""
    replan_samples: int = 2
    """revisions sampled at that replan request, besides the greedy one and the reorderings"""
    replan_repeats: int = 3
    """times a sampled revision that succeeded at the replan request is trained on"""
    greedy_revision_repeats: int = 1
    """times a greedy revision that succeeded is trained on: it keeps what the planner did right
    at replan requests (fetch the key of a locked door) while the corrections teach the rest"""


@dataclass
class GoalOutcome:
    env_id: str
    seed: int
    mission: str
    goal: str
    plans: dict[str, bool] = field(default_factory=dict)
    """each distinct plan sampled (as text) -> whether executing it succeeded"""
    greedy: bool = False
    """whether the greedy plan (the planner's answer at temperature 0) succeeded"""
    greedy_plan: str | None = None
    replan_request: dict | None = None
    """the orchestrator's first replan request after the greedy plan (``PlanRequest`` as data)"""
    revisions: dict[str, bool] = field(default_factory=dict)
    """each distinct revision tried at that request -> whether the episode then succeeded"""
    greedy_revision: bool = False


def unlabeled_goals(config: OutcomeConfig, rewriter) -> list[GoalOutcome]:
    """The missions of ``config.goals`` env seeds, each reworded by ``rewriter`` so that it keeps its
    meaning (up to ``config.reword_attempts`` draws; a mission none of them keeps is left out)."""
    rng = random.Random(config.seed)
    level_ids, weights = list(config.levels), list(config.levels.values())
    envs: dict[str, gym.Env] = {}
    goals: list[GoalOutcome] = []
    for seed in range(config.seed, config.seed + config.goals):
        env_id = rng.choices(level_ids, weights)[0]
        env = envs.setdefault(env_id, make_env(env_id))
        mission = env.reset(seed=seed)[0]["mission"]
        for _ in range(config.reword_attempts):
            goal = reword(mission, rewriter, rng)
            if goal and goal.lower().rstrip(".") != mission and keeps_meaning(mission, goal):
                goals.append(GoalOutcome(env_id=env_id, seed=seed, mission=mission, goal=goal))
                break
    return goals


def sample_and_score(
    goals: list[GoalOutcome],
    planner: LLMPlanner,
    rollout: Rollout,
    config: OutcomeConfig,
    progress=None,
    proposer: LLMPlanner | None = None,
) -> None:
    """Execute each goal's greedy plan and, where it fails, each distinct plan sampled from
    ``planner`` and proposed by ``proposer``, filling ``goal.plans``. Goals scored before (with a
    greedy plan) only get the proposer's plans."""
    specs = library_specs()

    def score(goal: GoalOutcome, source: LLMPlanner, temperature: float, seed: int) -> str | None:
        sampling = FULL_DISTRIBUTION if temperature > 0 and config.full_distribution else {}
        request = PlanRequest(goal=goal.goal, skills=specs)
        result = source.plan(request, temperature=temperature, seed=seed, **sampling)
        if result.plan is None:
            return None
        text = format_plan(result.plan, specs)
        if text not in goal.plans:
            goal.plans[text] = rollout(goal.env_id, goal.seed, goal.goal, [result.plan])[0]
        return text

    for number, goal in enumerate(goals):
        if goal.greedy_plan is None:
            goal.greedy_plan = score(goal, planner, 0.0, number * 100)
            goal.greedy = goal.greedy_plan is not None and goal.plans[goal.greedy_plan]
            for sample in range(1, 1 + config.samples):
                if goal.greedy:
                    break
                score(goal, planner, config.temperature, number * 100 + sample)
        for proposal in range(config.proposals if proposer and not goal.greedy else 0):
            temperature = 0.0 if proposal == 0 else config.proposal_temperature
            score(goal, proposer, temperature, number * 100 + 50 + proposal)
        if progress:
            progress(number + 1, len(goals))


def reorderings(plan: list[Subgoal]) -> list[list[Subgoal]]:
    """The plan's subgoals in other orders: reversed, then each rotation. Exploration beyond the
    model's own samples, which hardly differ from its greedy plan: when every subgoal succeeded and
    the goal is still not achieved, the words' order was most often not the order the goal needs
    ("A after you B" read as A, then B)."""
    orders = [plan[::-1]] + [plan[k:] + plan[:k] for k in range(1, len(plan))]
    unique = []
    for order in orders:
        if order != plan and order not in unique:
            unique.append(order)
    return unique


def score_replans(
    goals: list[GoalOutcome], planner: LLMPlanner, rollout: Rollout, config: OutcomeConfig, progress=None
) -> None:
    """For each goal whose greedy plan failed: run it to its first replan request, then execute
    the planner's greedy revision, ``config.replan_samples`` sampled ones and (where every subgoal had
    succeeded) the first plan's :func:`reorderings`, each from that request on; fills
    ``goal.revisions``. Goals that have revisions already are kept as they are."""
    specs = library_specs()
    parser = PlanParser(specs=specs)
    for number, goal in enumerate(goals):
        if goal.greedy or not goal.greedy_plan or goal.revisions:
            continue
        first = parser.parse(goal.greedy_plan)
        success, request = rollout(goal.env_id, goal.seed, goal.goal, [first])
        if success or request is None:
            continue
        goal.replan_request = request.model_dump(mode="json")
        candidates = []
        for sample in range(1 + config.replan_samples):
            temperature = 0.0 if sample == 0 else config.temperature
            sampling = FULL_DISTRIBUTION if temperature > 0 and config.full_distribution else {}
            result = planner.plan(request, temperature=temperature, seed=number * 100 + 70 + sample, **sampling)
            candidates.append(result.plan)
        if all(o.status == "succeeded" for o in request.history):
            candidates += reorderings(first)
        for position, revision in enumerate(candidates):
            if revision is None:
                continue
            text = format_plan(revision, specs)
            if text not in goal.revisions:
                goal.revisions[text] = rollout(goal.env_id, goal.seed, goal.goal, [first, revision])[0]
            if position == 0:
                goal.greedy_revision = goal.revisions[text]
        if progress:
            progress(number + 1, len(goals))


def outcome_examples(goals: list[GoalOutcome], config: OutcomeConfig, sft_recipe: DataRecipe) -> list[PlanExample]:
    """The shortest successful plan of each goal (``config.correction_repeats`` times where the
    greedy plan failed, ``config.greedy_repeats`` times where it succeeded), the first successful
    revision at the recorded replan request (``config.replan_repeats`` times where the greedy
    revision failed, ``config.greedy_revision_repeats`` times where it succeeded), plus replayed
    examples of the SFT recipe."""
    specs = library_specs()
    examples = []
    for goal in goals:
        won = sorted((p for p, ok in goal.plans.items() if ok), key=lambda p: (p.count("\n"), len(p)))
        if won:
            example = PlanExample(
                kind="outcome",
                env_id=goal.env_id,
                seed=goal.seed,
                mission=goal.mission,
                request=PlanRequest(goal=goal.goal, skills=specs),
                plan=won[0],
            )
            examples += [example] * (config.greedy_repeats if goal.greedy else config.correction_repeats)
        revised = [r for r, ok in goal.revisions.items() if ok]
        if revised and goal.replan_request:
            example = PlanExample(
                kind="outcome",
                env_id=goal.env_id,
                seed=goal.seed,
                mission=goal.mission,
                request=PlanRequest(**goal.replan_request),
                plan=revised[0],
            )
            examples += [example] * (config.greedy_revision_repeats if goal.greedy_revision else config.replan_repeats)
    replay = round(config.replay_fraction * len(examples))
    replayed = list(generate(replace(sft_recipe, examples=replay, seed=sft_recipe.seed + 5_000_000))) if replay else []
    mixed = examples + replayed
    random.Random(config.seed).shuffle(mixed)
    return mixed


def summary(goals: list[GoalOutcome]) -> dict:
    """How often the greedy plan and any sampled plan succeeded; corrections: goals where only a
    sampled plan did; replanned: goals explored at a replan request, recovered by the greedy
    revision, and revision corrections: recovered only by another revision."""
    replanned = [g for g in goals if g.replan_request]
    return {
        "goals": len(goals),
        "greedy_success": sum(g.greedy for g in goals) / max(1, len(goals)),
        "any_success": sum(any(g.plans.values()) for g in goals) / max(1, len(goals)),
        "corrections": sum(not g.greedy and any(g.plans.values()) for g in goals),
        "distinct_plans": sum(len(g.plans) for g in goals),
        "replanned": len(replanned),
        "greedy_revision_success": sum(g.greedy_revision for g in replanned),
        "revision_corrections": sum(not g.greedy_revision and any(g.revisions.values()) for g in replanned),
    }


def write_goals(goals: list[GoalOutcome], path: Path) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for goal in goals:
            out.write(json.dumps(goal.__dict__) + "\n")


def read_goals(path: Path) -> list[GoalOutcome]:
    """Goals written by :func:`write_goals`, with the plans already scored."""
    import json

    return [GoalOutcome(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def train_outcomes(
    config: OutcomeConfig,
    sft: SFTConfig,
    adapter: Path,
    rollout: Rollout,
    progress: bool = True,
    scored: Path | None = None,
):
    """Sample, execute and score plans for unlabeled goals, then train the adapter at ``adapter``
    further on the plans that worked; writes the new adapter (and ``goals.jsonl``, the scored
    samples) to ``sft.out`` and returns its card. ``scored``: a ``goals.jsonl`` of an earlier run
    whose goals and plans are kept (only the proposer's plans are added)."""
    import json

    from tqdm import tqdm

    from foreman.planner.llama_chat import LlamaCppChat
    from foreman.planner.llm import PlannerPrompts
    from foreman.planner.tuning.adapter import gguf_adapter, load_card
    from foreman.planner.tuning.sft import train_sft
    from foreman.planner.weights import QWEN_CODER_1_5B

    card = load_card(adapter)
    goals = read_goals(scored) if scored else unlabeled_goals(config, default_rewriter())
    planner = LLMPlanner(
        LlamaCppChat(model=card.base, lora=gguf_adapter(adapter)), prompts=PlannerPrompts.load(card.prompt)
    )
    proposer = LLMPlanner(LlamaCppChat(model=QWEN_CODER_1_5B)) if config.proposals else None
    bar = tqdm(total=len(goals), desc="sample and execute", disable=not progress)
    sample_and_score(goals, planner, rollout, config, lambda done, _: bar.update(done - bar.n), proposer)
    bar.close()
    if config.replans:
        bar = tqdm(total=len(goals), desc="replan and execute", disable=not progress)
        score_replans(goals, planner, rollout, config, lambda done, _: bar.update(done - bar.n))
        bar.close()
    sft.out.mkdir(parents=True, exist_ok=True)
    write_goals(goals, sft.out / "goals.jsonl")
    outcomes = summary(goals)
    (sft.out / "outcomes.json").write_text(json.dumps(outcomes, indent=1))
    examples = outcome_examples(goals, config, DataRecipe(**card.data) if "examples" in card.data else DataRecipe())
    data = {"sft": card.data, "outcomes": {**asdict(config), **outcomes, "examples": len(examples)}}
    return train_sft(replace(sft, init_adapter=adapter), progress=progress, examples=examples, data=data)
