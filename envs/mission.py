"""BabyAI missions as typed instruction trees, parsed from text and written back.

The grammar is BabyAI's (minigrid 3.x ``LevelGen``)::

    instruction := step | step ", then" step | step "after you" step
    step        := clause | clause "and" clause
    clause      := "go to" D | "pick up" D | "open" D | "put" D "next to" D
    D           := ("the" | "a") [colour] (ball | box | key | door | object) [location]
    location    := "in front of you" | "behind you" | "on your left" | "on your right"

"A, then B" does A first; "A after you B" does B first; "A and B" in any order. "the" means
exactly one object matches the description, "a" that several do and any will do. Locations are
relative to the agent's pose at the start of the episode.

The same clause types (plus :class:`Drop`) are the subgoal vocabulary shared by skills, planners
and success detectors: see :data:`Subgoal`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from minigrid.envs.babyai.core import verifier as babyai
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from foreman.errors import ForemanError

Color = Literal["red", "green", "blue", "purple", "yellow", "grey"]
ObjectType = Literal["ball", "box", "key", "door"]
SquareType = Literal["goal"]
"""MiniGrid's cells that are stood on, not carried or faced: never in the mission language, only
arguments of a declared kind ("reach(the goal)")"""
Location = Literal["front", "behind", "left", "right"]
Article = Literal["the", "a"]

COLORS: tuple[str, ...] = get_args(Color)
OBJECT_TYPES: tuple[str, ...] = get_args(ObjectType)
LOCATIONS: tuple[str, ...] = get_args(Location)

_LOCATION_TEXT = {
    "front": "in front of you",
    "behind": "behind you",
    "left": "on your left",
    "right": "on your right",
}


class _Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ObjectDesc(_Node):
    """A description of a set of objects: ``the red ball on your left``.

    ``type`` None is BabyAI's "object" (any type); ``color`` None is any colour.
    """

    article: Article = "the"
    color: Color | None = None
    type: ObjectType | SquareType | None = None
    location: Location | None = None

    @model_validator(mode="after")
    def _square_stays(self) -> ObjectDesc:
        if self.type == "goal" and self.location is not None:
            raise ValueError("a goal square is not told by where it lay at the start")
        return self

    def to_text(self) -> str:
        words: list[str | None] = [self.article, self.color, self.type or "object"]
        if self.location:
            words.append(_LOCATION_TEXT[self.location])
        return " ".join(w for w in words if w)

    def matches(self, color: str, obj_type: str) -> bool:
        """Whether an object of this colour and type fits the description (location aside)."""
        return (self.color is None or self.color == color) and (self.type is None or self.type == obj_type)


def _no_square(*descs: ObjectDesc | None) -> None:
    if any(d is not None and d.type == "goal" for d in descs):
        raise ValueError("the mission language's kinds act on objects and doors, not goal squares")


class GoTo(_Node):
    """Stand next to a matching object (or door) and face it."""

    kind: Literal["go_to"] = "go_to"
    target: ObjectDesc

    @model_validator(mode="after")
    def _an_object(self) -> GoTo:
        _no_square(self.target)
        return self

    def to_text(self) -> str:
        return f"go to {self.target.to_text()}"


class PickUp(_Node):
    """Lift a matching object (not a door) with empty hands."""

    kind: Literal["pick_up"] = "pick_up"
    target: ObjectDesc

    @model_validator(mode="after")
    def _not_a_door(self) -> PickUp:
        if self.target.type == "door":
            raise ValueError("a door cannot be picked up")
        _no_square(self.target)
        return self

    def to_text(self) -> str:
        return f"pick up {self.target.to_text()}"


class Open(_Node):
    """Toggle a matching door into the open state."""

    kind: Literal["open"] = "open"
    target: ObjectDesc

    @model_validator(mode="after")
    def _a_door(self) -> Open:
        if self.target.type != "door":
            raise ValueError("only a door can be opened")
        return self

    def to_text(self) -> str:
        return f"open {self.target.to_text()}"


class PutNext(_Node):
    """Drop a matching object on a cell beside a matching second object."""

    kind: Literal["put_next"] = "put_next"
    target: ObjectDesc
    next_to: ObjectDesc

    @model_validator(mode="after")
    def _movable(self) -> PutNext:
        if self.target.type == "door":
            raise ValueError("a door cannot be moved")
        _no_square(self.target, self.next_to)
        return self

    def to_text(self) -> str:
        return f"put {self.target.to_text()} next to {self.next_to.to_text()}"


class Drop(_Node):
    """Put down what is carried (a subgoal only: missions never say it)."""

    kind: Literal["drop"] = "drop"
    target: ObjectDesc | None = None

    def to_text(self) -> str:
        return f"drop {self.target.to_text()}" if self.target else "drop what you carry"


SubgoalKind = Literal["go_to", "pick_up", "open", "drop", "put_next"]
SUBGOAL_KINDS: tuple[str, ...] = get_args(SubgoalKind)
"""the mission language's kinds; a skill's card may declare others (``envs/kinds.py``)"""


class Call(_Node):
    """A subgoal of a kind a skill's card declares (``envs/kinds.py``): "close the red door".

    ``text`` is the kind's wording with the arguments filled in; ``arguments`` are in the order
    the kind declares them."""

    kind: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    arguments: tuple[tuple[str, ObjectDesc], ...] = ()
    text: str

    @model_validator(mode="after")
    def _not_a_mission_kind(self) -> Call:
        if self.kind in SUBGOAL_KINDS:
            raise ValueError(f"{self.kind!r} is a kind of the mission language, not a declared one")
        return self

    def argument(self, name: str) -> ObjectDesc:
        return dict(self.arguments)[name]

    def to_text(self) -> str:
        return self.text


def _subgoal_tag(value: object) -> str:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if kind in SUBGOAL_KINDS else "call"


def arguments_of(subgoal: GoTo | PickUp | Open | PutNext | Drop | Call) -> list[ObjectDesc]:
    """A subgoal's object descriptions, in its kind's order (a drop of anything has none)."""
    if isinstance(subgoal, Call):
        return [d for _, d in subgoal.arguments]
    return [d for d in (subgoal.target, getattr(subgoal, "next_to", None)) if d is not None]


Clause = Annotated[GoTo | PickUp | Open | PutNext, Field(discriminator="kind")]
Subgoal = Annotated[
    Annotated[GoTo, Tag("go_to")]
    | Annotated[PickUp, Tag("pick_up")]
    | Annotated[Open, Tag("open")]
    | Annotated[PutNext, Tag("put_next")]
    | Annotated[Drop, Tag("drop")]
    | Annotated[Call, Tag("call")],
    Discriminator(_subgoal_tag),
]
"""a subgoal: one of the mission language's clauses, a drop, or a call of a declared kind"""


class And(_Node):
    """``first and second``: both, in either order."""

    kind: Literal["and"] = "and"
    first: Clause
    second: Clause

    def to_text(self) -> str:
        return f"{self.first.to_text()} and {self.second.to_text()}"


Step = Annotated[GoTo | PickUp | Open | PutNext | And, Field(discriminator="kind")]


class Before(_Node):
    """``first, then second``."""

    kind: Literal["before"] = "before"
    first: Step
    second: Step

    def to_text(self) -> str:
        return f"{self.first.to_text()}, then {self.second.to_text()}"


class After(_Node):
    """``second after you first``: the text names the later step first."""

    kind: Literal["after"] = "after"
    first: Step
    second: Step

    def to_text(self) -> str:
        return f"{self.second.to_text()} after you {self.first.to_text()}"


Instruction = Annotated[GoTo | PickUp | Open | PutNext | And | Before | After, Field(discriminator="kind")]


def clauses_in_order(instr: Instruction) -> list[Clause]:
    """The primitive clauses in an order that satisfies the instruction (``and`` left to right)."""
    if isinstance(instr, (And, Before, After)):
        return clauses_in_order(instr.first) + clauses_in_order(instr.second)
    return [instr]


# --------------------------------------------------------------------------- parsing


class MissionParseError(ForemanError, ValueError):
    """Mission text outside the BabyAI grammar; ``position`` is the character that failed."""

    def __init__(self, text: str, position: int, expected: str, found: str):
        self.text, self.position, self.expected, self.found = text, position, expected, found
        super().__init__(
            f"cannot parse mission at character {position}: expected {expected}, found {found}\n"
            f"  {text}\n  {' ' * position}^"
        )


_TOKEN = re.compile(r"[A-Za-z]+|,|\S")


class _Parser:
    def __init__(self, text: str, squares: bool = False):
        self.text = text
        self.squares = squares  # whether a description may name a goal square
        self.tokens = [(m.group().lower(), m.start()) for m in _TOKEN.finditer(text)]
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def fail(self, expected: str) -> MissionParseError:
        if self.i < len(self.tokens):
            word, pos = self.tokens[self.i]
            return MissionParseError(self.text, pos, expected, repr(word))
        return MissionParseError(self.text, len(self.text.rstrip()), expected, "the end of the text")

    def take(self, *options: str, expected: str | None = None) -> str:
        word = self.peek()
        if word not in options:
            raise self.fail(expected or " or ".join(repr(o) for o in options))
        self.i += 1
        return word

    def instruction(self) -> Instruction:
        if not self.tokens:
            raise self.fail("an instruction such as 'go to the red ball'")
        first = self.step()
        word = self.peek()
        if word == ",":
            self.take(",")
            self.take("then")
            instr: Instruction = Before(first=first, second=self.step())
        elif word == "after":
            self.take("after")
            self.take("you")
            instr = After(second=first, first=self.step())
        else:
            instr = first
        if self.peek() is not None:
            joins = []
            if instr is first:
                joins = ["', then'", "'after you'"] if isinstance(first, And) else ["'and'", "', then'", "'after you'"]
            end = "the end of the mission"
            raise self.fail(f"{', '.join(joins)} or {end}" if joins else end)
        return instr

    def step(self) -> Step:
        clause = self.clause()
        if self.peek() == "and":
            self.take("and")
            return And(first=clause, second=self.clause())
        return clause

    def clause(self) -> Clause:
        verb = self.take("go", "pick", "open", "put", expected="'go to', 'pick up', 'open' or 'put'")
        if verb == "go":
            self.take("to")
            return GoTo(target=self.desc())
        if verb == "pick":
            self.take("up")
            start = self.i
            target = self.desc()
            if target.type == "door":
                self.i = start
                raise self.fail("an object that can be picked up (not a door)")
            return PickUp(target=target)
        if verb == "open":
            start = self.i
            target = self.desc()
            if target.type != "door":
                self.i = start
                raise self.fail("a door")
            return Open(target=target)
        start = self.i
        target = self.desc()
        if target.type == "door":
            self.i = start
            raise self.fail("an object that can be moved (not a door)")
        self.take("next")
        self.take("to")
        return PutNext(target=target, next_to=self.desc())

    def desc(self) -> ObjectDesc:
        article = self.take("the", "a", expected="'the' or 'a'")
        color = self.take(*COLORS) if self.peek() in COLORS else None
        if self.squares and self.peek() == "goal":
            self.take("goal")
            if self.peek() == "square":
                self.take("square")
            return ObjectDesc.model_validate({"article": article, "color": color, "type": "goal"})
        obj_type = self.take(*OBJECT_TYPES, "object", expected="ball, box, key, door or object")
        location = None
        if self.peek() == "in":
            self.take("in")
            self.take("front")
            self.take("of")
            self.take("you")
            location = "front"
        elif self.peek() == "behind":
            self.take("behind")
            self.take("you")
            location = "behind"
        elif self.peek() == "on":
            self.take("on")
            self.take("your")
            location = self.take("left", "right")
        return ObjectDesc.model_validate(  # the words were checked against the vocabulary as they were read
            {
                "article": article,
                "color": color,
                "type": None if obj_type == "object" else obj_type,
                "location": location,
            }
        )


def parse_mission(text: str) -> Instruction:
    """Parse BabyAI mission text (case-insensitive) into an instruction tree.

    Raises :class:`MissionParseError` naming the character position that failed.
    """
    return _Parser(text).instruction()


def parse_object(text: str) -> ObjectDesc:
    """Parse one object description ("the red ball on your left"), or a goal square's ("the
    green goal", "the goal square"), which only a declared kind takes."""
    parser = _Parser(text, squares=True)
    desc = parser.desc()
    if parser.peek() is not None:
        raise parser.fail("the end of the object description")
    return desc


# --------------------------------------------------------------------------- BabyAI trees


def desc_from_babyai(desc: babyai.ObjDesc) -> ObjectDesc:
    """Our description of a resolved BabyAI ``ObjDesc`` (its ``obj_set`` decides the article)."""
    return ObjectDesc(
        article="the" if len(desc.obj_set) == 1 else "a",
        color=desc.color,
        type=desc.type,
        location=desc.loc,
    )


def from_babyai(instr: babyai.Instr) -> Instruction:
    """Convert an env's own instruction tree (``env.unwrapped.instrs``, after reset) to ours."""
    if isinstance(instr, babyai.GoToInstr):
        return GoTo(target=desc_from_babyai(instr.desc))
    if isinstance(instr, babyai.PickupInstr):
        return PickUp(target=desc_from_babyai(instr.desc))
    if isinstance(instr, babyai.OpenInstr):
        return Open(target=desc_from_babyai(instr.desc))
    if isinstance(instr, babyai.PutNextInstr):
        return PutNext(target=desc_from_babyai(instr.desc_move), next_to=desc_from_babyai(instr.desc_fixed))
    if isinstance(instr, babyai.AndInstr):
        return And.model_validate({"first": from_babyai(instr.instr_a), "second": from_babyai(instr.instr_b)})
    if isinstance(instr, babyai.BeforeInstr):
        return Before.model_validate({"first": from_babyai(instr.instr_a), "second": from_babyai(instr.instr_b)})
    if isinstance(instr, babyai.AfterInstr):
        return After.model_validate({"second": from_babyai(instr.instr_a), "first": from_babyai(instr.instr_b)})
    raise TypeError(f"no mission clause for BabyAI instruction {type(instr).__name__}")
