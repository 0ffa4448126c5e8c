"""The success detector of a declared kind: its checks (``envs/kinds.py``) read on the world.

Like BabyAI's verifiers it reads the true world state (a simulated success detector; the agent
never sees it), fixes which objects each argument names when the subgoal starts, and follows
them wherever they are carried.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from minigrid.envs.babyai.core import verifier as babyai

from foreman.envs.detectors import Pose, Status, SubgoalDetector, posed, verifiable
from foreman.envs.kinds import Check, KindError, KindSpec, load_entry
from foreman.envs.mission import Call, ObjectDesc, Subgoal


def _matching(world: Any, desc: ObjectDesc) -> list[Any]:
    """The objects ``desc`` names now (BabyAI's rule, locations against the agent's pose), and
    the carried object if its colour and type fit; a goal square's description, the goal squares
    of its colour (BabyAI's descriptions know no squares)."""
    if desc.type == "goal":
        return [o for o in world.grid.grid if o is not None and o.type == "goal" and desc.color in (None, o.color)]
    found, _ = babyai.ObjDesc(desc.type, desc.color, desc.location).find_matching_objs(world)
    held = world.carrying
    if held is not None and (desc.type in (None, held.type)) and (desc.color in (None, held.color)):
        found = [*found, held]
    return list(found)


def _where(world: Any, obj: Any) -> tuple[int, int] | None:
    """An object's cell, or None while it is carried."""
    if obj is world.carrying or obj.cur_pos is None:
        return None
    x, y = int(obj.cur_pos[0]), int(obj.cur_pos[1])
    return (x, y) if world.grid.get(x, y) is obj else None


class DeclaredCheck:
    """Tracks a :class:`Call` subgoal: create it when the subgoal starts, then call :meth:`step`
    once after every ``env.step``; once it says success or failure it keeps saying so."""

    def __init__(self, kind: KindSpec, subgoal: Call, env: gym.Env, anchor: Pose | None = None):
        self.kind, self.subgoal, self.env = kind, subgoal, env
        self._world = verifiable(env)
        self._entries = {e: load_entry(e) for e in kind.check.entries() + (kind.fails.entries() if kind.fails else [])}
        with posed(self._world, anchor):
            self._named = {name: _matching(self._world, desc) for name, desc in subgoal.arguments}
        self._start = {name: [_where(self._world, o) for o in objs] for name, objs in self._named.items()}
        self.status: Status = "continue"

    def step(self, action: int | None = None) -> Status:
        if self.status != "continue":
            return self.status
        if self.kind.fails is not None and self._holds(self.kind.fails):
            self.status = "failure"
        elif self._holds(self.kind.check):
            self.status = "success"
        return self.status

    def _holds(self, check: Check) -> bool:
        world = self._world
        if check.all is not None:
            return all(self._holds(c) for c in check.all)
        if check.any is not None:
            return any(self._holds(c) for c in check.any)
        if check.not_ is not None:
            return not self._holds(check.not_)
        if check.facing is not None:
            ahead = world.grid.get(*world.front_pos)
            if not any(ahead is o for o in self._named[check.facing]):
                return False
            return check.state is None or _door_state(ahead) == check.state
        if check.carrying_nothing:
            return world.carrying is None
        if check.carrying is not None:
            return any(world.carrying is o for o in self._named[check.carrying])
        if check.next_to is not None:
            first, second = check.next_to
            cells = [(o, _where(world, o)) for o in self._named[first]]
            others = [(o, _where(world, o)) for o in self._named[second]]
            return any(
                a is not b and p is not None and q is not None and abs(p[0] - q[0]) + abs(p[1] - q[1]) == 1
                for a, p in cells
                for b, q in others
            )
        if check.moved is not None:
            objs, starts = self._named[check.moved], self._start[check.moved]
            return any(_where(world, o) != start for o, start in zip(objs, starts, strict=True))
        if check.on is not None:
            here = world.grid.get(*world.agent_pos)
            return any(here is o for o in self._named[check.on])
        assert check.entry is not None  # Check allows exactly one key
        return self._entries[check.entry](self.env, self.subgoal) == "success"


class CheckAsInstr:
    """A declared kind's check where BabyAI expects an instruction: a training level's
    ``instrs``, which give the level its reward and its end (``subgoal_levels.py``)."""

    def __init__(self, kind: KindSpec, subgoal: Call):
        self.kind, self.subgoal = kind, subgoal
        self.check: DeclaredCheck | None = None

    def reset_verifier(self, env: Any) -> None:
        self.check = DeclaredCheck(self.kind, self.subgoal, env)

    def verify(self, action: int | None) -> Status:
        assert self.check is not None, "reset_verifier(env) first"
        return self.check.step(action)

    def surface(self, env: Any) -> str:
        return self.subgoal.to_text()

    def update_objs_poss(self) -> None:
        """Nothing to do: the check follows its objects itself."""


def _door_state(obj: Any) -> str | None:
    if obj is None or obj.type != "door":
        return None
    return "locked" if obj.is_locked else "open" if obj.is_open else "closed"


def detector_for(
    subgoal: Subgoal, env: gym.Env, anchor: Pose | None = None, kind: KindSpec | None = None
) -> SubgoalDetector | DeclaredCheck:
    """The success detector of a subgoal: BabyAI's verifier for the mission language's kinds, the
    declared checks of ``kind`` for a :class:`Call`."""
    if isinstance(subgoal, Call):
        if kind is None or kind.name != subgoal.kind:
            raise KindError(f"no declaration of the kind {subgoal.kind!r} to check {subgoal.to_text()!r} with")
        return DeclaredCheck(kind, subgoal, env, anchor)
    return SubgoalDetector(subgoal, env, anchor)
