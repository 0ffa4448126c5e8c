"""Missions reworded by a language model, and a check that a rewording still means its mission.

The rewordings are goals without labels for reinforcement from outcomes (``outcomes.py``) and
held-out goals for the benchmarks: nobody knows the right plan for the words the model wrote.
"""

from __future__ import annotations

import random
import re
from collections import Counter

from foreman.envs import (
    COLORS,
    OBJECT_TYPES,
    After,
    And,
    Before,
    ObjectDesc,
    PutNext,
    clauses_in_order,
    parse_mission,
)
from foreman.planner.llm import PROMPTS_DIR, clean_goal
from foreman.planner.plan import VERBS_OF_ONE_KIND


def default_rewriter():
    """The untuned 1.5B model, sampling: it rewords missions the way it likes."""
    from foreman.planner.llama_chat import LlamaCppChat
    from foreman.planner.weights import QWEN_CODER_1_5B

    return LlamaCppChat(model=QWEN_CODER_1_5B, temperature=0.9, max_tokens=60)


def reword(mission: str, rewriter, rng: random.Random) -> str:
    """A free rewording of the mission by a chat model (``rewriter``), sampled; empty if the model
    returns nothing usable."""
    from langchain_core.messages import HumanMessage

    prompt = (PROMPTS_DIR / "reword_goal.txt").read_text().format(mission=mission)
    reply = rewriter.invoke([HumanMessage(content=prompt)], seed=rng.randrange(2**31))
    lines = str(reply.content).strip().splitlines()
    return clean_goal(lines[0].strip().strip('"')) if lines else ""


_VERB_ROOTS: dict[str, tuple[str, ...]] = {
    "go_to": ("go", "walk", "head", "mov", "proceed", "navigat", "approach", "travel", "reach", "get", "visit"),
    "pick_up": ("pick", "grab", "tak", "fetch", "collect", "get", "lift", "retriev", "obtain", "grasp", "gather"),
    "open": ("open", "unlock", "unbolt", "unlatch"),
    "put_next": ("put", "plac", "set", "position", "mov", "leav", "drop", "bring", "carr"),
}
_ONLY = VERBS_OF_ONE_KIND
"""verbs that say their kind alone: a goal using one must have a step of that kind (a put picks up too)"""
_NEXT_TO = ("next", "beside", "near", "adjacent", "alongside", "by", "close")
_SYNONYMS = {"gray": "grey", "sphere": "ball", "crate": "box"}
_NAMES = (*COLORS, *OBJECT_TYPES, "object")
_LOCATION_WORDS = {"front": ("front", "ahead"), "behind": ("behind",), "left": ("left",), "right": ("right",)}


def keeps_meaning(mission: str, goal: str) -> bool:
    """Whether a rewording plausibly means its mission: every colour, object type and location the
    mission names appears in it as often, every kind of step has a verb for it (every pick-up one
    of its own), and no verb asks for a kind of step the mission has not ("pick up a purple box"
    reworded "Go to the purple box" does not). A filter for data sets of reworded goals: it reads
    the mission, which the planner never sees, and it never plans."""
    words = [_SYNONYMS.get(w, w) for w in re.findall(r"[a-z]+", goal.lower())]
    plural = {w[:-2] if w.endswith("es") and w[:-2] in _NAMES else w[:-1] for w in words if w.endswith("s")}
    if plural & set(_NAMES):
        return False  # "the two balls", "boxes": counts no longer line up with the mission's objects
    clauses = clauses_in_order(parse_mission(mission))
    if len(clauses) == 1 and {"then", "finally", "after", "before", "rest"} & set(words):
        return False  # "Pick up the red box first, then proceed with the rest of your tasks": more than one step
    named = [v for c in clauses for d in _descriptions(c) for v in (d.color, d.type or "object") if v]
    if Counter(w for w in words if w in _NAMES) != Counter(named):
        return False
    if not _in_order(parse_mission(mission), words):
        return False
    kinds = {c.kind for c in clauses}
    if "put_next" in kinds and not set(_NEXT_TO) & set(words):
        return False

    def says(roots: tuple[str, ...]) -> bool:
        return any(w.startswith(root) for w in words for root in roots)

    if says(_ONLY["open"]) and "open" not in kinds:
        return False
    if says(_ONLY["pick_up"]) and not kinds & {"pick_up", "put_next"}:
        return False
    picks = sum(any(w.startswith(root) for root in _ONLY["pick_up"]) for w in words)
    if picks < sum(c.kind == "pick_up" for c in clauses):
        return False  # "Gather a yellow ball and locate a purple key" picks up one of the two
    if any(_swapped(c, words) for c in clauses if isinstance(c, PutNext)):
        return False
    if any(w in _NEXT_TO and "it" in words[k + 1 : k + 3] for k, w in enumerate(words)):
        return False  # "locate the green box, then place the yellow box next to it": which moves is unsure
    return all(says(_VERB_ROOTS[kind]) for kind in kinds)


def _in_order(instruction, words: list[str]) -> bool:
    """Whether the goal names the mission's objects in the order they are acted on (or, for a
    goal that says "after" as its mission does, in the mission's own order), and says each
    location right after its object and nowhere else ("put the ball behind you next to the red
    ball" is not "put the ball next to the red ball behind you"; "open the yellow door first, then
    the door in front of you" reverses "open a yellow door after you open the door in front of
    you")."""
    named = [k for k, w in enumerate(words) if w in _NAMES]
    said = [words[k] for k in named]
    relations = {"after", "before"} & set(words)
    orders = [clauses_in_order(instruction)]
    if "after" in relations and words[0] != "after":  # "After A, B" does A first, whatever its mission writes
        orders.append(_as_written(instruction))
    if relations - {c.kind for c in _nodes(instruction)}:
        return False
    for clauses in orders:
        descs = [d for c in clauses for d in _descriptions(c)]
        if said == [v for d in descs for v in (d.color, d.type or "object") if v]:
            return _places_follow(descs, words, named)
    return False


def _places_follow(descs: list[ObjectDesc], words: list[str], named: list[int]) -> bool:
    """Whether each location word of the goal comes right after the object it belongs to."""
    places = [w for w in words if any(w in said for said in _LOCATION_WORDS.values())]
    if len(places) != sum(d.location is not None for d in descs):
        return False
    end = 0
    for d in descs:
        end += len([v for v in (d.color, d.type or "object") if v])
        until = named[end] if end < len(named) else len(words)
        if d.location is not None and not set(_LOCATION_WORDS[d.location]) & set(words[named[end - 1] + 1 : until]):
            return False
    return True


def _as_written(instruction) -> list:
    """The primitive clauses in the order the mission writes them ("b after you a": b, a)."""
    if isinstance(instruction, After):
        return _as_written(instruction.second) + _as_written(instruction.first)
    if isinstance(instruction, (And, Before)):
        return _as_written(instruction.first) + _as_written(instruction.second)
    return [instruction]


def _nodes(instruction) -> list:
    """Every node of the instruction's tree."""
    children = [instruction.first, instruction.second] if isinstance(instruction, (And, Before, After)) else []
    return [instruction, *(n for c in children for n in _nodes(c))]


def _swapped(clause: PutNext, words: list[str]) -> bool:
    """Whether the goal names the fixed object before the one to move, where the two differ in a
    word ("set the green key beside the blue ball" for "put the blue ball next to the green key"
    asks to move the key, and BabyAI's check wants the ball moved)."""
    moved = [w for w in (clause.target.color, clause.target.type) if w]
    fixed = [w for w in (clause.next_to.color, clause.next_to.type) if w]
    telling = [w for w in moved if w not in fixed], [w for w in fixed if w not in moved]
    if not telling[0] or not telling[1] or not all(w in words for w in telling[0] + telling[1]):
        return False
    return words.index(telling[0][0]) > words.index(telling[1][0])


def _descriptions(clause) -> list[ObjectDesc]:
    return [d for d in (clause.target, getattr(clause, "next_to", None)) if d is not None]
