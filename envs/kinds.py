"""Subgoal kinds declared as data: what a skill's subgoal takes and when it is done.

A skill's card declares its kind (``SkillCard.kind``): its arguments and what each may be, how a
subgoal of it reads, and its success check. The planner's grammar and prompt, the success
detector and the skill network's input are all built from this declaration, so a new kind needs
no code in foreman. The mission language's own kinds (go to, pick up, open, put next, drop) are
BabyAI's, with BabyAI's verifiers as their checks (``detectors.py``).

A check is a small predicate over the world, written as JSON::

    {"facing": "target"}                          the agent faces an object the argument matches
    {"facing": "target", "state": "closed"}       ... and that door is closed (open, locked)
    {"carrying": "target"}, {"carrying": null}    it carries a matching object / nothing
    {"next_to": ["target", "other"]}              a matching object lies beside another
    {"moved": "target"}                           a matching object is off the cell it started on
    {"on": "target"}                              the agent stands on a matching cell (a goal square)
    {"all": [...]}, {"any": [...]}, {"not": {...}}
    {"entry": "package.module:function"}          anything else: ``function(env, subgoal)``
                                                  returns "success", "failure" or "continue"

Which objects an argument matches is fixed when the subgoal starts (BabyAI's rule: "the box
behind you" is the one behind the agent then, wherever it is carried). A subgoal succeeds at
the first step after which its ``check`` holds and fails at the first after which its ``fails``
check does.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from foreman.envs.mission import Call, ObjectDesc
from foreman.errors import ForemanError

ArgumentType = Literal["object", "movable", "door", "goal"]
"""what an argument may describe: any object or door, an object that can be carried, a door, a
goal square"""

_NAME = r"^[a-z][a-z0-9_]*$"


class KindError(ForemanError, ValueError):
    """A kind declaration that cannot be used: an unknown argument, a check that does not import."""


class Argument(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME)
    type: ArgumentType
    description: str = ""


class Check(BaseModel):
    """One predicate over the world, or a combination of them (exactly one key is given; ``state``
    goes with ``facing``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    all: list[Check] | None = None
    any: list[Check] | None = None
    not_: Check | None = Field(default=None, alias="not")
    facing: str | None = None
    state: Literal["open", "closed", "locked"] | None = None
    carrying: str | None = None
    carrying_nothing: bool = Field(default=False, exclude=True)
    next_to: tuple[str, str] | None = None
    moved: str | None = None
    on: str | None = None
    entry: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _null_carrying(cls, data: Any) -> Any:
        if isinstance(data, dict) and "carrying" in data and data["carrying"] is None:
            return {**{k: v for k, v in data.items() if k != "carrying"}, "carrying_nothing": True}
        return data

    @model_serializer(mode="wrap")
    def _as_written(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The keys given, as a card writes them (``{"carrying": null}`` for carrying nothing)."""
        given = {k: v for k, v in handler(self).items() if v is not None and k != "carrying_nothing"}
        written = {"not" if k == "not_" else k: v for k, v in given.items()}
        return written | ({"carrying": None} if self.carrying_nothing else {})

    @model_validator(mode="after")
    def _one_key(self) -> Check:
        given = [
            k
            for k in ("all", "any", "not_", "facing", "carrying", "next_to", "moved", "on", "entry")
            if getattr(self, k)
        ]
        given += ["carrying"] if self.carrying_nothing else []
        if len(given) != 1:
            raise ValueError(
                f"a check has exactly one of all, any, not, facing, carrying, next_to, moved, on, entry: {given}"
            )
        if self.state is not None and self.facing is None:
            raise ValueError("'state' goes with 'facing'")
        if self.entry is not None and not re.fullmatch(r"[\w.]+:\w+", self.entry):
            raise ValueError(f"entry {self.entry!r} is not 'package.module:function'")
        return self

    def arguments(self) -> set[str]:
        """The argument names the check refers to."""
        named = {a for a in (self.facing, self.carrying, self.moved, self.on) if a} | set(self.next_to or ())
        for child in [*(self.all or []), *(self.any or []), *([self.not_] if self.not_ else [])]:
            named |= child.arguments()
        return named

    def entries(self) -> list[str]:
        children = [*(self.all or []), *(self.any or []), *([self.not_] if self.not_ else [])]
        return ([self.entry] if self.entry else []) + [e for c in children for e in c.entries()]


def load_entry(entry: str) -> Callable[..., str]:
    """The function an ``entry`` names; a clear error if it does not import."""
    module, _, name = entry.partition(":")
    try:
        function = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise KindError(f"check entry {entry!r} does not import: {error}") from None
    if not callable(function):
        raise KindError(f"check entry {entry!r} is not a function")
    return function


class KindSpec(BaseModel):
    """A subgoal kind: its name, arguments, wording and checks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_NAME)
    says: str
    """how a subgoal reads, the arguments in braces: "close {target}"""
    arguments: list[Argument] = Field(default_factory=list)
    check: Check
    fails: Check | None = None

    @field_validator("arguments")
    @classmethod
    def _distinct(cls, arguments: list[Argument]) -> list[Argument]:
        names = [a.name for a in arguments]
        if len(set(names)) != len(names):
            raise ValueError(f"arguments are named twice: {names}")
        if len(arguments) > 2:  # a skill's input marks a target and one object beside it
            raise ValueError(f"a kind takes at most two arguments, not {len(arguments)}: {names}")
        return arguments

    @model_validator(mode="after")
    def _declared(self) -> KindSpec:
        names = {a.name for a in self.arguments}
        used = self.check.arguments() | (self.fails.arguments() if self.fails else set())
        if used - names:
            raise ValueError(f"the checks name arguments this kind does not declare: {sorted(used - names)}")
        placeholders = set(re.findall(r"{(\w+)}", self.says))
        if placeholders != names:
            raise ValueError(f"'says' must place each argument once in braces: {self.says!r} for {sorted(names)}")
        return self

    def importable(self) -> None:
        """Raise :class:`KindError` unless every entry point of the checks imports."""
        for entry in self.check.entries() + (self.fails.entries() if self.fails else []):
            load_entry(entry)

    def call(self, *descriptions: ObjectDesc) -> Call:
        """A subgoal of this kind on these arguments, in the declared order; an argument that is
        not what the kind takes (a door to carry, a ball to close) is a ``KindError``."""
        if len(descriptions) != len(self.arguments):
            raise KindError(f"{self.name} takes {len(self.arguments)} argument(s), got {len(descriptions)}")
        for argument, desc in zip(self.arguments, descriptions, strict=True):
            if not fits(argument.type, desc):
                raise KindError(f"{self.name}: {desc.to_text()!r} is not {_A[argument.type]}")
        text = self.says.format(**{a.name: d.to_text() for a, d in zip(self.arguments, descriptions, strict=True)})
        return Call(
            kind=self.name,
            arguments=tuple((a.name, d) for a, d in zip(self.arguments, descriptions, strict=True)),
            text=text,
        )


_A = {
    "object": "an object or door",
    "movable": "an object that can be carried (not a door)",
    "door": "a door",
    "goal": "a goal square",
}


def fits(kind: ArgumentType, desc: ObjectDesc) -> bool:
    """Whether a description can be an argument of this type."""
    if kind in ("door", "goal"):
        return desc.type == kind
    if kind == "movable":
        return desc.type not in ("door", "goal")
    return desc.type != "goal"
