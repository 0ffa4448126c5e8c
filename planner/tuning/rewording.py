"""Missions reworded by a language model, and a check that a rewording still means its mission.

The rewordings are goals without labels for reinforcement from outcomes (``outcomes.py``) and
held-out goals for the benchmarks: nobody knows the right plan for the words the model wrote.
"""

from __future__ import annotations

import random
import re
from collections import Counter

from foreman.envs import COLORS, OBJECT_TYPES, ObjectDesc, PutNext, clauses_in_order, parse_mission
from foreman.planner.llm import PROMPTS_DIR, clean_goal


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
_ONLY = {
    "pick_up": ("pick", "grab", "fetch", "collect", "lift", "retriev", "grasp", "gather"),
    "open": _VERB_ROOTS["open"],
}
"""verbs that say their kind alone: a goal using one must have a step of that kind (a put picks up too)"""
_NEXT_TO = ("next", "beside", "near", "adjacent", "alongside", "by", "close")
_SYNONYMS = {"gray": "grey", "sphere": "ball", "crate": "box"}
_NAMES = (*COLORS, *OBJECT_TYPES, "object")
_LOCATION_WORDS = {"front": ("front", "ahead"), "behind": ("behind",), "left": ("left",), "right": ("right",)}


def keeps_meaning(mission: str, goal: str) -> bool:
    """Whether a rewording plausibly means its mission: every colour, object type and location the
    mission names appears in it as often, every kind of step has a verb for it, and no verb asks for
    a kind of step the mission has not ("pick up a purple box" reworded "Go to the purple box" does
    not). A filter for data sets of reworded goals: it reads the mission, which the planner never
    sees, and it never plans."""
    words = [_SYNONYMS.get(w, w) for w in re.findall(r"[a-z]+", goal.lower())]
    plural = {w[:-2] if w.endswith("es") and w[:-2] in _NAMES else w[:-1] for w in words if w.endswith("s")}
    if plural & set(_NAMES):
        return False  # "the two balls", "boxes": counts no longer line up with the mission's objects
    clauses = clauses_in_order(parse_mission(mission))
    named = [v for c in clauses for d in _descriptions(c) for v in (d.color, d.type or "object") if v]
    if Counter(w for w in words if w in _NAMES) != Counter(named):
        return False
    places = [d.location for c in clauses for d in _descriptions(c) if d.location]
    if any(not set(_LOCATION_WORDS[p]) & set(words) for p in places):
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
    if any(_swapped(c, words) for c in clauses if isinstance(c, PutNext)):
        return False
    return all(says(_VERB_ROOTS[kind]) for kind in kinds)


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
