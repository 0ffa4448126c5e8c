"""Plans as text the model writes, and as validated subgoals the orchestrator runs.

A plan is one skill call a line, ``skill_name(argument, argument)``, each argument a BabyAI object
description::

    pick_up(a purple ball)
    put_next(the purple ball, the red box on your left)

The planner sees skills only through their cards (data); :class:`SkillSpec` reads the fields it
needs from a card. A skill executes one subgoal kind of :mod:`foreman.envs.mission`, which fixes
its arguments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from langchain_core.exceptions import OutputParserException
from langchain_core.output_parsers import BaseOutputParser
from pydantic import BaseModel, ConfigDict, ValidationError

from foreman.envs import (
    COLORS,
    Drop,
    GoTo,
    KindSpec,
    MissionParseError,
    ObjectDesc,
    Open,
    PickUp,
    PutNext,
    Subgoal,
    arguments_of,
    parse_object,
)
from foreman.envs.kinds import ArgumentType

MAX_PLAN_STEPS = 8

# the mission language's kinds -> (subgoal class, argument names, what each argument may be)
_MISSION_KINDS: dict[str, tuple[type, tuple[str, ...], tuple[ArgumentType, ...]]] = {
    "go_to": (GoTo, ("target",), ("object",)),
    "pick_up": (PickUp, ("target",), ("movable",)),
    "open": (Open, ("target",), ("door",)),
    "put_next": (PutNext, ("target", "next_to"), ("movable", "object")),
    "drop": (Drop, (), ()),
}
_ARG_HINT = {"object": "OBJECT", "movable": "OBJECT (not a door)", "door": "DOOR", "goal": "GOAL SQUARE"}
_RULE_OF = {"object": "any", "movable": "movable", "door": "door", "goal": "goal"}
"""the grammar rule of each argument type"""
_MOVED = ("put_next", 0)
"""the argument put next to another: never an object the goal only puts things next to (see
:func:`misread_puts`), so it has a rule of its own"""


class SkillSpec(BaseModel):
    """What the planner reads from a skill card."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    description: str
    subgoal: str  # the subgoal kind the skill executes
    kind: KindSpec | None = None  # its declaration, for a kind the mission language does not have

    def arguments(self) -> list[tuple[str, ArgumentType]]:
        """The skill's arguments: name and what each may be."""
        if self.kind is not None:
            return [(a.name, a.type) for a in self.kind.arguments]
        _, names, types = _MISSION_KINDS[self.subgoal]
        return list(zip(names, types, strict=True))

    def signature(self) -> str:
        return f"{self.name}({', '.join(_ARG_HINT[t] for _, t in self.arguments())})"

    def subgoal_of(self, descriptions: Sequence[ObjectDesc]) -> Subgoal:
        """The subgoal this skill is called for with these arguments; a ``ValueError`` says why
        they do not fit."""
        if self.kind is not None:
            return self.kind.call(*descriptions)
        cls, names, _ = _MISSION_KINDS[self.subgoal]
        subgoal = cls(**dict(zip(names, descriptions, strict=True)))
        if isinstance(subgoal, PutNext) and _same_objects(subgoal.target, subgoal.next_to):
            # BabyAI rejects a put whose two descriptions share an object; these share them all
            raise ValueError(f"{subgoal.target.to_text()!r} cannot be put next to itself")
        return subgoal


def _same_objects(a: ObjectDesc, b: ObjectDesc) -> bool:
    return (a.color, a.type, a.location) == (b.color, b.type, b.location)


def skill_specs(cards: Sequence[Mapping[str, Any]]) -> list[SkillSpec]:
    """Read skill cards (JSON objects); a card whose subgoal kind is unknown is an error."""
    specs = [SkillSpec.model_validate(card) for card in cards]
    for spec in specs:
        if spec.kind is None and spec.subgoal not in _MISSION_KINDS:
            raise ValueError(f"skill {spec.name!r}: unknown subgoal kind {spec.subgoal!r}")
    return specs


def vocabulary_specs() -> list[SkillSpec]:
    """One skill per subgoal kind, named after it: the plan vocabulary when no cards are given."""
    return [
        SkillSpec(name=kind, description=(cls.__doc__ or kind).strip().splitlines()[0], subgoal=kind)
        for kind, (cls, _, _) in _MISSION_KINDS.items()
    ]


def format_step(subgoal: Subgoal, specs: Sequence[SkillSpec]) -> str:
    """A subgoal as the plan line that calls the skill executing it."""
    spec = next(s for s in specs if s.subgoal == subgoal.kind)
    return f"{spec.name}({', '.join(d.to_text() for d in arguments_of(subgoal))})"


def format_plan(plan: Sequence[Subgoal], specs: Sequence[SkillSpec]) -> str:
    return "\n".join(format_step(step, specs) for step in plan)


_CALL = re.compile(r"^\s*(?:\d+[.)]\s*)?([A-Za-z_]\w*)\s*\((.*)\)\s*$")


def parse_plan(text: str, specs: Sequence[SkillSpec]) -> list[Subgoal]:
    """Validate model output into subgoals; raises ValueError saying which line is wrong and why."""
    by_name = {s.name: s for s in specs}
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        raise ValueError("the plan is empty: write at least one skill call")
    if len(lines) > MAX_PLAN_STEPS:
        raise ValueError(f"the plan has {len(lines)} steps; at most {MAX_PLAN_STEPS} are allowed")
    plan = []
    for number, line in enumerate(lines, 1):
        match = _CALL.match(line)
        if not match:
            raise ValueError(f"line {number} {line.strip()!r} is not a skill call like go_to(the red ball)")
        name, arg_text = match.groups()
        if name not in by_name:
            raise ValueError(f"line {number}: there is no skill {name!r}; the skills are {', '.join(by_name)}")
        spec = by_name[name]
        args = [a.strip() for a in arg_text.split(",")] if arg_text.strip() else []
        if len(args) != len(spec.arguments()):
            raise ValueError(
                f"line {number}: {spec.signature()} takes {len(spec.arguments())} argument(s), got {len(args)}"
            )
        try:
            plan.append(spec.subgoal_of([parse_object(a) for a in args]))
        except MissionParseError as error:
            raise ValueError(
                f"line {number}: {error.text!r} is not an object description "
                f"(expected {error.expected} at {error.found})"
            ) from None
        except ValidationError as error:
            reason = error.errors()[0]["msg"].removeprefix("Value error, ")
            raise ValueError(f"line {number}: {line.strip()!r}: {reason}") from None
        except ValueError as error:  # a kind's arguments that do not fit, a put next to itself
            raise ValueError(f"line {number}: {line.strip()!r}: {error}") from None
    return plan


class PlanParser(BaseOutputParser[list[Subgoal]]):
    """LangChain output parser: model text -> validated subgoals.

    A parse error carries its message for the model in ``observation`` (LangChain's convention).
    """

    specs: list[SkillSpec]

    def parse(self, text: str) -> list[Subgoal]:
        try:
            return parse_plan(text, self.specs)
        except ValueError as error:
            raise OutputParserException(str(error), observation=str(error), llm_output=text, send_to_llm=True) from None


_WORD = re.compile(r"[a-z]+")


class _Phrase(NamedTuple):
    text: str
    """the description as BabyAI writes it, with the place written after it attached"""
    words: frozenset[int]
    """the positions of the words it was read from"""


_CLAUSE_WORDS = frozenset({"and", "then", "after", "before", "next", "near", "beside", "while", "once"})


def _place_at(words: Sequence[str], k: int) -> tuple[str, int] | None:
    """The agent-relative place written from ``words[k]`` ("behind you", "to your left", "from
    the right side", "in front of you") and where it ends; None for other uses of the words
    ("right away", "right next to", "behind the box", "in front of the door")."""
    word, after = words[k], words[k + 1 : k + 3]
    if word == "behind" and after[:1] and after[0] in ("you", "your", "yourself"):
        return "behind", k + 2
    if word == "front" and words[k - 1 : k] == ["in"] and after in (["of", "you"], ["of", "yourself"]):
        return "front", k + 3
    if word in ("left", "right") and words[k - 1 : k] in (["your"], ["the"]):
        if after[:1] == ["of"] and after[1:] != ["you"]:
            return None  # "to the left of the box": a place beside something else
        return word, k + (3 if after == ["of", "you"] else 1)
    return None


def _phrases(words: Sequence[str]) -> list[_Phrase]:
    """The object descriptions in a list of words: longest match first, in order.

    A description written without a place takes the agent-relative place written soon after it,
    before the next description or clause ("the key from behind your feet": "the key behind you"),
    so a plan can be held to it (:func:`unsaid`)."""
    spans, i = [], 0
    while i < len(words):
        for j in range(min(len(words), i + 8), i + 1, -1):
            try:
                parse_object(" ".join(words[i:j]))
            except MissionParseError:
                continue
            spans.append((i, j))
            i = j - 1
            break
        i += 1
    phrases = []
    for n, (i, j) in enumerate(spans):
        text, used = " ".join(words[i:j]), set(range(i, j))
        end = spans[n + 1][0] if n + 1 < len(spans) else len(words)
        if parse_object(text).location is None:
            for k in range(j, min(end, j + 6)):
                if words[k] in _CLAUSE_WORDS:
                    break
                place = _place_at(words, k)
                if place is not None:
                    text, used = f"{text} {_LOCATION_WORDS[place[0]]}", used | set(range(k, place[1]))
                    break
        phrases.append(_Phrase(text, frozenset(used)))
    return phrases


def noun_phrases(text: str) -> list[str]:
    """Object descriptions written in a text, longest match first, in order, without repeats
    ("gray" and "sphere" read as BabyAI's "grey" and "ball")."""
    return list(dict.fromkeys(p.text for p in _phrases(_said_words(text))))


def _said_words(text: str) -> list[str]:
    return [_SAID_AS.get(w, w) for w in _WORD.findall(text.lower())]


_SAID_AS = {
    "gray": "grey",
    "balls": "ball",
    "boxes": "box",
    "keys": "key",
    "doors": "door",
    "objects": "object",
    "sphere": "ball",  # how people (and the rewording model) often call the ball and the box
    "spheres": "ball",
    "crate": "box",
    "crates": "box",
}
_LOCATION_WORDS = {"front": "in front of you", "behind": "behind you", "left": "on your left", "right": "on your right"}


def _alternatives(words: Sequence[str]) -> str:
    return " | ".join(f'"{w}"' for w in words)


def _description(colors: Sequence[str], types: Sequence[str], locations: Sequence[str], required: str = "") -> str:
    """A GBNF alternative: an article, a colour, one of ``types``, a location; the colour and the
    location may be left out, except the one ``required`` names ("color" or "location")."""
    color = f'({_alternatives(colors)}) " " ' if colors else ""
    location = f' " " ({_alternatives(locations)})' if locations else ""
    if required != "color" and color:
        color = f"({color})? "
    if required != "location" and location:
        location = f" ({location})?"
    return f'(("the" | "a") " " {color}({_alternatives(types)}){location})'


class Said:
    """The colours, object types and location words of a text, all of them and those written
    outside every object description (the "loose" ones: "the door that is *red*", "*gray*")."""

    def __init__(self, text: str):
        words = _said_words(text)
        phrases = _phrases(words)
        inside = {k for p in phrases for k in p.words}
        rooms = {k for k in range(len(words) - 1) if words[k + 1] in ("room", "rooms")}  # "the blue room": a place
        every = {w for k, w in enumerate(words) if k not in rooms}
        loose = {w for k, w in enumerate(words) if k not in inside | rooms}
        self.types = [t for t in ("ball", "box", "key", "door", "object") if t in every]
        self.colors = [c for c in COLORS if c in every]
        self.loose_colors = [c for c in COLORS if c in loose]
        self.locations = [v for w, v in _LOCATION_WORDS.items() if w in every]
        self.loose_locations = [v for w, v in _LOCATION_WORDS.items() if w in loose]
        self.places = list(dict.fromkeys(loc for p in phrases if (loc := parse_object(p.text).location)))
        self.names_a_square = any(parse_object(p.text).type == "goal" for p in phrases)
        """whether it describes a goal square ("the goal")"""
        """the places of the objects it describes ("front", ...), attached or written within"""

    def descriptions(self, types: Sequence[str]) -> list[str]:
        """Descriptions of ``types`` said that use a loose colour or a loose location word."""
        kinds = [t for t in types if t in self.types]
        if not kinds:
            return []
        found = []
        if self.loose_colors:
            found.append(_description(self.loose_colors, kinds, self.locations, required="color"))
        if self.loose_locations:
            found.append(_description(self.colors, kinds, self.loose_locations, required="location"))
        return found


def unsaid(goal: str, plan: Sequence[Subgoal]) -> list[str]:
    """The colours, kinds of object and objects' places the goal says that no argument of the
    plan carries, and a goal square it names ("go to the goal") that no argument is.

    A plan that leaves one out asks for something else ("the key of grey color" planned as
    ``go_to(the key)``, "the key from behind your feet" as ``pick_up(the key)``, "the key near
    the designated box" as ``put_next(the key, the key)``): judged by its
    own subgoals' checks, it would be done while the goal is not. Loose place words (not after an
    object, as :func:`_phrases` reads them) are left alone: they may mean something else."""
    descs = [d for s in plan for d in arguments_of(s) if d is not None]
    said = Said(goal)
    places = {d.location for d in descs}
    types = [t for t in said.types if t != "object" and t not in {d.type for d in descs}]
    return (
        [c for c in said.colors if c not in {d.color for d in descs}]
        + types
        + [_LOCATION_WORDS[p] for p in said.places if p not in places]
        + (["the goal square"] if said.names_a_square and "goal" not in {d.type for d in descs} else [])
    )


VERBS_OF_ONE_KIND = {
    "pick_up": ("pick", "grab", "fetch", "collect", "lift", "retriev", "grasp", "gather"),
    "open": ("open", "unlock", "unbolt", "unlatch"),
}
"""verb roots that ask for one kind of step alone (a put picks its object up too)"""


def unplanned(goal: str, plan: Sequence[Subgoal]) -> list[str]:
    """The kinds of step the goal's verbs ask for that the plan has none of ("Navigate to the
    purple key and retrieve it" planned as two ``go_to``: judged by the plan's own checks, done,
    and nothing was picked up)."""
    words = _WORD.findall(goal.lower())
    kinds = {s.kind for s in plan} | ({"pick_up"} if any(s.kind == "put_next" for s in plan) else set())
    return [
        kind
        for kind, roots in VERBS_OF_ONE_KIND.items()
        if kind not in kinds and any(w.startswith(r) for w in words for r in roots)
    ]


_NEXT_TO_WORDS = ("next", "beside", "besides", "near", "nearby", "adjacent", "alongside", "by", "close")


def _kept_in_place(text: str) -> set[str]:
    """The object descriptions a text writes only right after "next to", "beside", "near": the
    objects it puts things next to, never one it moves."""
    words = _said_words(text)
    after: set[str] = set()
    elsewhere: set[str] = set()
    for phrase in _phrases(words):
        i = min(phrase.words)
        before = words[max(0, i - 2) : i]
        beside = bool(before) and (before[-1] in _NEXT_TO_WORDS or (before[-1] == "to" and before[0] in _NEXT_TO_WORDS))
        (after if beside else elsewhere).add(phrase.text)
    return after - elsewhere


def misread_puts(goal: str, plan: Sequence[Subgoal]) -> list[str]:
    """The plan's puts that move an object the goal only puts things next to.

    "Go to the yellow ball and place it next to the grey ball" planned as
    ``put_next(the grey ball, the yellow ball)`` moves the wrong ball; judged by its own subgoals'
    checks, it would be done while the goal is not."""
    kept = {(d.color, d.type) for d in map(parse_object, _kept_in_place(goal))}
    return [s.to_text() for s in plan if isinstance(s, PutNext) and (s.target.color, s.target.type) in kept]


def _phrase_rule(name: str, phrases: Sequence[str], keep, said: Said | None, types: Sequence[str]) -> str:
    """The copied phrases that fit and, with ``said``, descriptions put together with its loose
    colours and locations; with neither, any description of ``types``. Where a loose colour can
    be put together with a type, a copied phrase of that type without a colour is left out ("the
    key of grey color": "the grey key", not "the key", which would ask for any key)."""
    made = said.descriptions(types) if said is not None else []
    coloured = set(said.types) if said is not None and said.loose_colors and made else set()
    fitting = [
        f'"{p}"'
        for p in phrases
        if keep(desc := parse_object(p)) and not (desc.color is None and (desc.type or "object") in coloured)
    ]
    fitting += made
    places = [] if types == ("goal",) else list(_LOCATION_WORDS.values())  # a square is told by its colour alone
    return f"{name} ::= " + " | ".join(fitting or [_description(COLORS, types, places)])


def _movable(desc: ObjectDesc) -> bool:
    return desc.type not in ("door", "goal")


def plan_grammar(specs: Sequence[SkillSpec], phrases: Sequence[str] = (), said: str | None = None) -> str:
    """A GBNF grammar admitting exactly the plans :func:`parse_plan` accepts for these skills.

    With ``phrases`` (object descriptions copied from the goal and the feedback), arguments must
    be one of them, where one fits; small models otherwise rewrite "the" as "a" or drop a
    location. Which phrase goes to which skill, and in what order, is still the model's choice.
    With ``said`` (the goal and feedback text), an argument may also be put together from the
    colours, object types and location words written there, for goals that do not say it in
    BabyAI's order ("the door that is red", "the key on the left", "gray"): only with a colour or
    location word written outside every copied phrase, so a goal of BabyAI phrases gets exactly
    the copies (an untuned model would rewrite "the" as "a" otherwise), and nothing unsaid.
    """
    calls, rules = [], []
    for index, spec in enumerate(specs):
        body = ' ", " '.join(
            "moved" if spec.kind is None and (spec.subgoal, i) == _MOVED else _RULE_OF[t]
            for i, (_, t) in enumerate(spec.arguments())
        )
        rule = f"call{index}"
        rules.append(f'{rule} ::= "{spec.name}(" {body} ")"' if body else f'{rule} ::= "{spec.name}()"')
        calls.append(rule)
    heard = None if said is None else Said(said)
    kept = _kept_in_place(said) if said is not None else set()
    moved = [p for p in phrases if p not in kept]
    return "\n".join(
        [
            f'root ::= call ("\\n" call){{0,{MAX_PLAN_STEPS - 1}}}',
            f"call ::= {' | '.join(calls)}",
            *rules,
            _phrase_rule("any", phrases, lambda d: d.type != "goal", heard, ("ball", "box", "key", "door", "object")),
            _phrase_rule("door", phrases, lambda d: d.type == "door", heard, ("door",)),
            _phrase_rule("movable", phrases, _movable, heard, ("ball", "box", "key", "object")),
            _phrase_rule("moved", moved, _movable, heard, ("ball", "box", "key", "object")),
            _phrase_rule("goal", phrases, lambda d: d.type == "goal", heard, ("goal",)),
        ]
    )
