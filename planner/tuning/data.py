"""Planner fine-tuning data: (request, plan) pairs made from BabyAI levels' instruction trees.

Every example is made from a seed, so a data set is a recipe (:class:`DataRecipe`) and never a
committed file. Three kinds, mixed:

- ``mission``: a level's own mission; the plan is its instruction tree's clauses in order.
- ``paraphrase``: the same mission reworded (verbs, connectives, politeness, pronouns) with every
  noun phrase kept word for word, so the plan stays what the tree says.
- ``pronoun``: a goal a user writes with "it" ("go to the red door, then open it"), made from a
  mission's clause; the plan names the object again.
- ``declared``: a goal that asks for a kind a skill's card declares ("close the red door", "go
  to the goal"), alone or before or after a mission's clauses, with the library's cards in the
  prompt; the plan calls that skill (see :func:`_declared`).
- ``replan``: a mission, a history in which the first clauses succeeded and the next one did not
  (with the orchestrator's feedback wording), and what the agent sees at the start of the episode;
  the plan is what remains, after fetching the key first when the feedback names a locked door
  (and opening that door first when the failed subgoal was not about it: what the subgoal needs
  lies behind the door, the orchestrator's ``_locked_away`` stop).

(``outcome`` examples come from the environment's reward, not from a tree: see ``outcomes.py``.)
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from foreman.envs import (
    COLORS,
    AgentMemory,
    Clause,
    GoTo,
    ObjectDesc,
    Open,
    PickUp,
    PutNext,
    Subgoal,
    clauses_in_order,
    from_babyai,
)
from foreman.envs import make_env as _make_env
from foreman.envs.kinds import ArgumentType, fits
from foreman.paths import PACKAGE_DIR
from foreman.planner.llm import PlanRequest, SubgoalOutcome
from foreman.planner.plan import SkillSpec, format_plan, skill_specs, vocabulary_specs

ExampleKind = Literal["mission", "paraphrase", "pronoun", "declared", "replan", "outcome"]

LEVEL_WEIGHTS: dict[str, float] = {
    "BabyAI-BossLevel-v0": 0.35,
    "BabyAI-SynthSeq-v0": 0.2,
    "BabyAI-GoToSeq-v0": 0.1,
    "BabyAI-PutNextLocal-v0": 0.07,
    "BabyAI-PickupLoc-v0": 0.06,
    "BabyAI-GoToLocal-v0": 0.04,
    "BabyAI-Synth-v0": 0.06,
    "BabyAI-Open-v0": 0.03,
    "Foreman-MixedTrainLocal-v0": 0.09,
}


def level_weights(text: str) -> dict[str, float]:
    """``ENV=WEIGHT,ENV=WEIGHT`` (as written on the command line) -> {env: weight}."""
    weights = {}
    for part in text.split(","):
        env_id, _, weight = part.partition("=")
        weights[env_id.strip()] = float(weight)
    return weights


@dataclass(frozen=True)
class DataRecipe:
    """How a data set is made; the same recipe always makes the same examples."""

    examples: int = 1000
    """(request, plan) examples to make"""
    seed: int = 10_000_000
    """env seeds are ``seed``, ``seed + 1``, ...: far from the benchmarks' (1,000,000+ and 2,000,000+)"""
    paraphrase_fraction: float = 0.3
    """goals reworded with their noun phrases kept word for word"""
    replan_fraction: float = 0.12
    """replanning turns: a history where the next clause failed, with the orchestrator's feedback"""
    barred_fraction: float = 0.0
    """of the replan examples whose failed subgoal is not about a door: those failed with "the C
    door is locked; a C key is needed" (0 draws nothing extra, so earlier recipes make the same
    examples)"""
    levels: dict[str, float] = field(default_factory=lambda: dict(LEVEL_WEIGHTS), metadata={"parse": level_weights})
    """the mix of levels the missions come from, ENV=WEIGHT,..."""
    declared_fraction: float = 0.0
    """goals that ask for a kind declared by a card in ``cards`` (0 draws nothing extra, so earlier
    recipes make the same examples)"""
    cards: Path = PACKAGE_DIR / "skills" / "library"
    """the skill library whose cards the declared goals' prompts list (the built-in one by default)"""


class PlanExample(BaseModel):
    """One training pair: what the planner is asked, and the plan it should write."""

    kind: ExampleKind
    env_id: str
    seed: int
    mission: str
    """the env's own mission, which the plan must carry out"""
    request: PlanRequest
    plan: str


_VERBS: dict[str, tuple[str, ...]] = {
    "go to": ("go to", "walk to", "move to", "get to", "head over to", "navigate to", "reach", "go next to"),
    "pick up": ("pick up", "grab", "take", "fetch", "get", "collect", "lift", "pick"),
    "open": ("open", "unlock", "open up"),
    "put": ("put", "place", "move", "set", "bring", "push"),
}
_NEXT_TO = ("next to", "beside", "by", "close to", "near", "adjacent to")
_THEN = (", then ", ", and then ", " and then ", ". Then ", ", after that ", " then ", "; then ", ", next ")
_AFTER = (" after you ", " once you ", " when you have finished to ", " but first ")
_AND = (" and ", ", and ", " and also ", " as well as ")
_OPENERS = ("", "", "", "please ", "could you ", "I want you to ", "now ", "your task: ", "try to ", "robot, ")
_CLOSERS = ("", "", ".", "!", " please", " now")


def paraphrase(mission: str, rng: random.Random) -> str:
    """Reword a BabyAI mission keeping every noun phrase word for word (and so its plan)."""
    text = mission
    # connectives first, on the original words
    text = re.sub(r", then ", lambda _: rng.choice(_THEN), text)
    text = re.sub(r" after you ", lambda _: rng.choice(_AFTER), text)
    text = re.sub(r" and ", lambda _: rng.choice(_AND), text)
    text = re.sub(r"\bnext to\b", lambda _: rng.choice(_NEXT_TO), text)
    text = re.sub(r"\b(go to|pick up|open|put)\b", lambda m: rng.choice(_VERBS[m.group(1)]), text)
    opener, closer = rng.choice(_OPENERS), rng.choice(_CLOSERS)
    if opener == "could you ":
        closer = "?"
    text = opener + text + closer
    return text[0].upper() + text[1:] if rng.random() < 0.4 else text


def _pronoun_paraphrase(clauses: list[Clause], rng: random.Random) -> tuple[str, list[Clause]] | None:
    """Goals a user writes with "it": go to a door then open it; pick something up and put it
    next to something. The plan names the object again, as it was said."""
    first = clauses[0]
    if isinstance(first, PutNext):
        verb = rng.choice(("pick up", "take", "grab"))
        place = rng.choice(("put it next to", "place it next to", "drop it next to", "put it beside"))
        return f"{verb} {first.target.to_text()} and {place} {first.next_to.to_text()}", [first]
    if isinstance(first, (GoTo, Open)) and first.target.type == "door":
        door = first.target
        connective = rng.choice((" and ", ", then ", " and then "))
        return f"go to {door.to_text()}{connective}open it", [GoTo(target=door), Open(target=door)]
    return None


def _replan(
    clauses: list[Clause],
    memory: AgentMemory,
    goal: str,
    specs: Sequence[SkillSpec],
    rng: random.Random,
    barred_fraction: float = 0.0,
) -> tuple[PlanRequest, list[Clause]]:
    """A history where ``done`` clauses succeeded and the next did not, and the remaining plan."""
    done = rng.randrange(len(clauses))
    history = [SubgoalOutcome(subgoal=c, status="succeeded") for c in clauses[:done]]
    failed = clauses[done]
    remaining: list[Clause] = list(clauses[done:])
    target = failed.target
    if isinstance(failed, (GoTo, Open)) and target.type == "door" and rng.random() < 0.5:
        color = target.color or rng.choice(("red", "green", "blue", "purple", "yellow", "grey"))
        reason = f"the {color} door is locked; a {color} key is needed"
        history.append(SubgoalOutcome(subgoal=failed, status="ran out of steps", reason=reason))
        remaining.insert(0, PickUp(target=ObjectDesc(article="a", color=color, type="key")))
    elif target.type != "door" and barred_fraction > 0 and rng.random() < barred_fraction:
        color = rng.choice(("red", "green", "blue", "purple", "yellow", "grey"))
        reason = f"the {color} door is locked; a {color} key is needed"
        history.append(SubgoalOutcome(subgoal=failed, status="failed", reason=reason))
        door = ObjectDesc(article="the", color=color, type="door")
        remaining[:0] = [PickUp(target=ObjectDesc(article="a", color=color, type="key")), Open(target=door)]
    elif isinstance(failed, (PickUp, PutNext)) and rng.random() < 0.4:
        held = (
            f"{rng.choice(('red', 'green', 'blue', 'purple', 'yellow', 'grey'))} {rng.choice(('ball', 'box', 'key'))}"
        )
        reason = f"the robot carries a {held}, so its hands are not free"
        history.append(SubgoalOutcome(subgoal=failed, status="ran out of steps", reason=reason))
    elif rng.random() < 0.5:
        history.append(
            SubgoalOutcome(subgoal=failed, status="ran out of steps", reason="not done within the step budget")
        )
    else:
        history.append(SubgoalOutcome(subgoal=failed, status="failed", reason="the subgoal's check reported a failure"))
    request = PlanRequest(goal=goal, skills=list(specs), observation=memory.describe(), history=history)
    return request, remaining


def library_specs() -> list[SkillSpec]:
    """The skills of the built-in library as the planner sees them: every subgoal kind but drop."""
    return [s for s in vocabulary_specs() if s.subgoal != "drop"]


def _skill_lists() -> list[list[SkillSpec]]:
    """The skill lists a prompt may show: every subgoal kind, or the built-in library's."""
    return [vocabulary_specs(), library_specs()]


def card_specs(library: Path) -> list[SkillSpec]:
    """The skills of a library folder as the planner sees them at run time: every card, by name."""
    cards = [json.loads(path.read_text()) for path in sorted(library.glob("*/card.json"))]
    return skill_specs(cards)


_KEY_DOOR = (
    "use {key} to open {door}",
    "use {key} to unlock {door}",
    "unlock {door} with {key}",
    "get {key}, unlock {door}",
    "get {key} from the {room} room, unlock {door}",
    "take {key} and open {door}",
)
"""ways of asking to fetch a key and open its door in one breath (the plan picks the key up
first); "the C room" is a place, never an object of the plan"""
_JOIN = (", then ", " and then ", ", and then ")


def _argument(env, kind: ArgumentType, rng: random.Random) -> ObjectDesc | None:
    """An object of the world a declared kind's argument may name (a goal square is "the goal"
    or "the green goal" whether or not the world has one: goals are text here)."""
    if kind == "goal":
        return ObjectDesc(type="goal", color=rng.choice((None, "green")))
    objs = [o for o in env.unwrapped.grid.grid if o is not None and o.type in ("key", "ball", "box", "door")]
    descs = [d for o in objs if fits(kind, d := ObjectDesc(color=o.color, type=o.type))]
    return rng.choice(descs) if descs else None


def _declared(
    env, clauses: list[Clause], specs: Sequence[SkillSpec], rng: random.Random
) -> tuple[str, list[Subgoal]] | None:
    """A goal asking for one declared kind's subgoal, alone or joined to the mission's clauses
    (before or after them), or after fetching a key and opening its door; and its plan."""
    declared = [s for s in specs if s.kind is not None]
    if not declared:
        return None
    spec = rng.choice(declared)
    args = [_argument(env, t, rng) for _, t in spec.arguments()]
    if any(a is None for a in args):
        return None
    call = spec.subgoal_of([a for a in args if a is not None])
    draw = rng.random()
    if draw < 0.3:
        parts, plan = [call.to_text()], [call]
    elif draw < 0.5:
        color = rng.choice((None, *COLORS))
        key, door = ObjectDesc(color=color, type="key"), ObjectDesc(color=color, type="door")
        fetch = rng.choice(_KEY_DOOR).format(key=key.to_text(), door=door.to_text(), room=rng.choice(COLORS))
        parts, plan = [fetch, call.to_text()], [PickUp(target=key), Open(target=door), call]
    else:
        steps: list[Subgoal] = list(clauses if len(clauses) <= 2 else clauses[:1])
        mission = " and ".join(c.to_text() for c in steps)
        parts, plan = [mission, call.to_text()], [*steps, call]
        if draw >= 0.75:
            parts, plan = parts[::-1], [call, *steps]
    return paraphrase(rng.choice(_JOIN).join(parts), rng), plan


def generate(recipe: DataRecipe) -> Iterator[PlanExample]:
    """The recipe's examples, in order; deterministic for the recipe."""
    rng = random.Random(recipe.seed)
    level_ids, weights = list(recipe.levels), list(recipe.levels.values())
    library = card_specs(recipe.cards) if recipe.declared_fraction > 0 else []
    envs = {}
    for number in range(recipe.examples):
        env_id = rng.choices(level_ids, weights)[0]
        if env_id not in envs:
            envs[env_id] = _make_env(env_id)
        env, seed = envs[env_id], recipe.seed + number
        obs, _ = env.reset(seed=seed)
        mission = obs["mission"]
        clauses = clauses_in_order(from_babyai(env.unwrapped.instrs))
        specs = rng.choice(_skill_lists() + ([library] if library else []))
        draw = rng.random()
        kind: ExampleKind = "mission"
        goal, plan = mission, clauses
        if library and rng.random() < recipe.declared_fraction:
            declared = _declared(env, clauses, library, rng)
            if declared is not None:
                goal, steps = declared
                request = PlanRequest(goal=goal, skills=library)
                yield PlanExample(
                    kind="declared",
                    env_id=env_id,
                    seed=seed,
                    mission=mission,
                    request=request,
                    plan=format_plan(steps, library),
                )
                continue
        if draw < recipe.paraphrase_fraction:
            pronoun = _pronoun_paraphrase(clauses, rng) if len(clauses) == 1 and rng.random() < 0.3 else None
            kind = "pronoun" if pronoun else "paraphrase"
            goal, plan = pronoun if pronoun else (paraphrase(mission, rng), clauses)
        if recipe.paraphrase_fraction <= draw < recipe.paraphrase_fraction + recipe.replan_fraction:
            memory = AgentMemory()
            memory.observe(obs)
            request, plan = _replan(clauses, memory, mission, specs, rng, recipe.barred_fraction)
            kind = "replan"
        else:
            request = PlanRequest(goal=goal, skills=specs)
        yield PlanExample(
            kind=kind, env_id=env_id, seed=seed, mission=mission, request=request, plan=format_plan(plan, specs)
        )
