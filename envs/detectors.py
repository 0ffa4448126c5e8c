"""Subgoal success detectors: is a subgoal done, failed, or still going, after each env step?

Detectors read the true env state, as simulated success detectors do in the literature; the agent
itself never sees it. They are BabyAI verifier instructions (``Instr.verify(action)``), so a
detector agrees with the env's own judgement of a one-clause mission, with these meanings of done:

========  ==================================================================================
subgoal   success (at the step where ...)                 failure (at the step where ...)
========  ==================================================================================
go_to     the agent faces a cell holding a matching       never (the step budget ends it)
          object; objects moved by drops are followed
pick_up   a ``pickup`` lifts a matching object            never (lifting another object, say
                                                          to clear a path, is allowed)
open      a ``toggle`` leaves a matching door open (a     never
          door that was already open must be toggled
          shut and open again, as in BabyAI)
drop      a ``drop`` puts down the carried object, and    a ``drop`` puts down an object that
          it matches the description if one is given      does not match
put_next  a ``drop`` puts a matching object on a cell     never (putting it down elsewhere, say
          beside a matching fixed object                  to clear a path, is allowed)
========  ==================================================================================

Only ``drop`` can fail: BossLevel's blockers must be lifted and carried objects set down on the way,
so doing so is no failure for the other subgoals (the step budget ends a subgoal that stalls). A
subgoal that happens by accident counts: an ``open the purple door`` detector fires if the door is
opened while the agent explores. Relative locations ("on your left") resolve against ``anchor``,
the pose the description refers to: the episode's start pose for clauses of the env's mission.

``verify`` is stateful: call :meth:`SubgoalDetector.step` exactly once after every env step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Literal, NamedTuple

import gymnasium as gym
from minigrid.core.actions import Actions
from minigrid.envs.babyai.core import verifier as babyai
from minigrid.envs.babyai.core.roomgrid_level import RoomGridLevel

from foreman.envs.mission import Drop, GoTo, ObjectDesc, Open, PickUp, PutNext, Subgoal

Status = Literal["success", "failure", "continue"]


class Pose(NamedTuple):
    """Where the agent stood and which way it faced (0 east, 1 south, 2 west, 3 north)."""

    pos: tuple[int, int]
    dir: int


def current_pose(env: gym.Env) -> Pose:
    """The agent's true pose (for detectors and tests only: it is privileged state)."""
    base: Any = env.unwrapped
    return Pose((int(base.agent_pos[0]), int(base.agent_pos[1])), int(base.agent_dir))


def world_is_over(env: gym.Env, reward: float) -> bool:
    """Whether a termination ends the world itself (the agent in lava, or hurt: a negative
    reward) rather than judging the world's own mission, after which a user's task goes on.

    A BabyAI level ends only to judge its mission, and rewards a mission done past its step
    limit below zero (1 - 0.9 t/T), so no termination of one ends the world."""
    base: Any = env.unwrapped
    if isinstance(base, RoomGridLevel):
        return False
    under = base.grid.get(*base.agent_pos)
    return reward < 0 or (under is not None and under.type == "lava")


class _WholeGrid:
    """The one room of a world without BabyAI's rooms: every cell is inside it."""

    def pos_inside(self, x: int, y: int) -> bool:
        return True


class _Roomed:
    """A MiniGrid world seen through BabyAI's verifiers, which ask which room the agent is in:
    reads go to the world itself, and a world without rooms is one room."""

    def __init__(self, base: Any):
        self._base = base

    @property
    def unwrapped(self) -> _Roomed:
        return self

    def room_from_pos(self, x: int, y: int) -> _WholeGrid:
        return _WholeGrid()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._base, name)


def verifiable(env: gym.Env) -> Any:
    """The world as BabyAI's verifiers need it: a BabyAI level as it is, any other MiniGrid
    grid with the whole grid as its one room."""
    base: Any = env.unwrapped
    return base if hasattr(base, "room_from_pos") else _Roomed(base)


@contextlib.contextmanager
def posed(env: Any, pose: Pose | None) -> Iterator[None]:
    """Temporarily put the agent at ``pose`` so BabyAI resolves locations against it."""
    if pose is None:
        yield
        return
    base: Any = getattr(env, "_base", None) or env.unwrapped
    saved = (base.agent_pos, base.agent_dir)
    base.agent_pos, base.agent_dir = pose.pos, pose.dir
    try:
        yield
    finally:
        base.agent_pos, base.agent_dir = saved


def _carried_matches(desc: babyai.ObjDesc, obj) -> bool:
    return (
        obj is not None
        and (desc.type is None or obj.type == desc.type)
        and (desc.color is None or obj.color == desc.color)
    )


class DropVerifier(babyai.ActionInstr):
    """Put down the carried object (one matching ``desc``, when a description is given)."""

    def __init__(self, obj_desc: babyai.ObjDesc | None = None):
        super().__init__()
        self.desc = obj_desc

    def surface(self, env):
        if self.desc is None:
            return "drop what you carry"
        return "drop the " + " ".join(w for w in (self.desc.color, self.desc.type) if w)

    def reset_verifier(self, env):
        super().reset_verifier(env)
        self.preCarrying = env.carrying

    def update_objs_poss(self):
        """Nothing to track: the carried object has no position."""

    def verify_action(self, action):
        before, self.preCarrying = self.preCarrying, self.env.carrying
        if action != Actions.drop or before is None or self.env.carrying is not None:
            return "continue"
        if self.desc is None or _carried_matches(self.desc, before):
            return "success"
        return "failure"


class PutNextVerifier(babyai.PutNextInstr):
    """BabyAI's put-next check, which also counts an object already in hand at the start.

    BabyAI's own check only follows objects lying in the grid when it starts, and forgets what
    was carried before its first step; a put-next subgoal usually starts right after a pickup.
    A carried object matches by colour and type (it has no location any more).
    """

    def reset_verifier(self, env):
        super().reset_verifier(env)
        self.preCarrying = env.carrying
        if _carried_matches(self.desc_move, env.carrying):
            self.desc_move.obj_set.append(env.carrying)


def _babyai_desc(desc: ObjectDesc) -> babyai.ObjDesc:
    return babyai.ObjDesc(desc.type, desc.color, desc.location)


def verifier_for(subgoal: Subgoal) -> babyai.ActionInstr:
    """The BabyAI verifier instruction that decides when ``subgoal`` is done."""
    if isinstance(subgoal, GoTo):
        return babyai.GoToInstr(_babyai_desc(subgoal.target))
    if isinstance(subgoal, PickUp):
        return babyai.PickupInstr(_babyai_desc(subgoal.target))
    if isinstance(subgoal, Open):
        return babyai.OpenInstr(_babyai_desc(subgoal.target))
    if isinstance(subgoal, PutNext):
        return PutNextVerifier(_babyai_desc(subgoal.target), _babyai_desc(subgoal.next_to))
    if isinstance(subgoal, Drop):
        return DropVerifier(_babyai_desc(subgoal.target) if subgoal.target else None)
    raise TypeError(f"no detector for {type(subgoal).__name__}")


class SubgoalDetector:
    """Tracks one subgoal from the current env state onwards.

    Create it when the subgoal starts, then call :meth:`step` once after every ``env.step``.
    Once it returns success or failure it keeps returning that.
    """

    def __init__(self, subgoal: Subgoal, env: gym.Env, anchor: Pose | None = None):
        self.subgoal = subgoal
        self._instr = verifier_for(subgoal)
        world = verifiable(env)
        with posed(world, anchor):
            self._instr.reset_verifier(world)
        self.status: Status = "continue"

    def step(self, action: int) -> Status:
        if self.status != "continue":
            return self.status
        if action == Actions.drop:
            self._instr.update_objs_poss()
        self.status = self._instr.verify(action)
        return self.status
