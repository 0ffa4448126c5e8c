"""Per-skill training environments: one episode is one subgoal."""

from __future__ import annotations

from gymnasium.envs.registration import register, registry
from minigrid.core.actions import Actions
from minigrid.core.constants import DIR_TO_VEC
from minigrid.core.roomgrid import reject_next_to
from minigrid.core.world_object import Goal, WorldObj
from minigrid.envs.babyai.core.levelgen import LevelGen
from minigrid.envs.babyai.core.roomgrid_level import RejectSampling
from minigrid.envs.babyai.core.verifier import OBJ_TYPES_NOT_DOOR, ObjDesc, OpenInstr

from foreman.envs.checks import CheckAsInstr
from foreman.envs.detectors import verifier_for
from foreman.envs.kinds import KindSpec
from foreman.envs.mission import (
    SUBGOAL_KINDS,
    Drop,
    GoTo,
    ObjectDesc,
    Open,
    PickUp,
    PutNext,
    Subgoal,
    SubgoalKind,
    arguments_of,
    desc_from_babyai,
)


class KeepKeyOpenInstr(OpenInstr):
    """BabyAI's open check, which also fails once the agent puts its key down while the door is
    still locked: the agent's loop stops an open subgoal there (a locked target and no key in
    hand), so the level ends the episode there too."""

    def verify(self, action):
        if action == Actions.drop and self.env.carrying is None and any(d.is_locked for d in self.desc.obj_set):
            return "failure"
        return super().verify(action)


class SubgoalLevel(LevelGen):
    """
    ## Description

    One subgoal of a BabyAI mission as a whole episode, for training one skill at a time. The
    layout is BabyAI's ``LevelGen`` (a grid of rooms joined by doors, an optional locked room
    whose key lies elsewhere, distractor objects), with knobs for a curriculum: ``room_size``,
    ``num_rows`` x ``num_cols`` rooms, ``num_dists`` distractors, ``locked_room_prob``,
    ``locations`` (location words in descriptions) and ``unblocking`` (objects may block paths).
    Episodes of kind ``drop`` start with the agent carrying a random object; the other kinds do
    with probability ``carry_prob`` (an object the subgoal does not name), as they do in the middle
    of a mission ("pick up the ball, then pick up the key").

    ## Mission Space

    The subgoal as text, also available typed as ``env.unwrapped.subgoal``:
    "go to {D}", "pick up {D}", "open {D}", "put {D} next to {D}" or "drop the {color} {type}",
    where D is a BabyAI object description ("the red ball", "a key on your left").

    ## Action Space

    | Num | Name    | Action                     |
    |-----|---------|----------------------------|
    | 0   | left    | Turn left                  |
    | 1   | right   | Turn right                 |
    | 2   | forward | Move forward               |
    | 3   | pickup  | Pick up an object          |
    | 4   | drop    | Drop the carried object    |
    | 5   | toggle  | Open a door / a box        |
    | 6   | done    | Unused                     |

    ## Observation Space

    MiniGrid's dict: ``image`` (7x7x3 egocentric view, each cell ``(OBJECT_IDX, COLOR_IDX,
    STATE)``, door state 0 open, 1 closed, 2 locked), ``direction`` (0-3) and ``mission``.

    ## Rewards

    ``1 - 0.9 * (step_count / max_steps)`` when the subgoal's detector
    (:mod:`foreman.envs.detectors`) reports success, else 0.

    ## Termination

    The episode ends when the detector reports success or failure (a drop level fails when the
    carried object does not match, an open level when the key in hand is put down before its
    locked door opens), or is truncated at ``max_steps``
    (BabyAI's budget: room_size² x rooms per navigation, two navigations for put-next).

    ## Registered Configurations

    ``Foreman-{GoTo,Pickup,Open,Drop,PutNext}Local-v0``: one room (two side by side for Open),
    8 distractors, no location words. ``Foreman-{GoTo,Pickup,Open,Drop,PutNext}-v0``: BossLevel's
    layout, 3x3 rooms, 18 distractors, a locked room half the time, location words, blockers, and
    an object in hand at the start 30% of the time. ``Foreman-Open-v0`` also targets the locked
    door with its key in hand in half the episodes with a locked room (``key_in_hand_prob``; the
    episode fails if the key is put down before the door opens)
    and leaves the target open in 30% of those whose description names one door
    (``open_target_prob``), as earlier subgoals of a mission leave them.
    """

    def __init__(
        self,
        subgoal_kind: SubgoalKind = "go_to",
        kind: KindSpec | dict | None = None,
        open_door_prob: float = 0.0,
        room_size: int = 8,
        num_rows: int = 1,
        num_cols: int = 1,
        num_dists: int = 8,
        locked_room_prob: float = 0.0,
        locations: bool = False,
        unblocking: bool = False,
        carry_prob: float = 0.0,
        key_in_hand_prob: float = 0.0,
        open_target_prob: float = 0.0,
        **kwargs,
    ):
        if subgoal_kind not in SUBGOAL_KINDS:
            raise ValueError(f"unknown subgoal kind {subgoal_kind!r}; expected one of {SUBGOAL_KINDS}")
        self.kind = KindSpec.model_validate(kind) if kind is not None else None
        takes_doors = subgoal_kind == "open" or any(
            a.type == "door" for a in (self.kind.arguments if self.kind else [])
        )
        if takes_doors and num_rows * num_cols < 2:
            raise ValueError("a level whose subgoal names a door needs two rooms or more (it has no doors otherwise)")
        self.subgoal_kind = subgoal_kind
        self.open_door_prob = open_door_prob
        self.carry_prob = carry_prob
        self.key_in_hand_prob = key_in_hand_prob
        self.open_target_prob = open_target_prob
        self.subgoal: Subgoal | None = None
        self._to_carry: WorldObj | None = None
        super().__init__(
            room_size=room_size,
            num_rows=num_rows,
            num_cols=num_cols,
            num_dists=num_dists,
            locked_room_prob=locked_room_prob,
            locations=locations,
            unblocking=unblocking,
            **kwargs,
        )

    def gen_mission(self):
        self.carrying = None  # left over from the previous episode until reset clears it
        self._to_carry = None
        super().gen_mission()

    def rand_instr(self, action_kinds, instr_kinds, depth=0):
        """Draw this level's subgoal (LevelGen calls this once the layout is built)."""
        if self.open_door_prob:  # no draws otherwise: the built-in levels' episodes stay as they were
            for door in [o for o in self.grid.grid if o is not None and o.type == "door" and not o.is_locked]:
                door.is_open = door.is_open or self._rand_float(0, 1) < self.open_door_prob
        if self.kind is not None:
            return self._declared(self.kind)
        kind = self.subgoal_kind
        if kind == "go_to":
            self.subgoal = GoTo(target=desc_from_babyai(self.rand_obj()))
        elif kind == "pick_up":
            self.subgoal = PickUp(target=desc_from_babyai(self.rand_obj(types=OBJ_TYPES_NOT_DOOR)))
        elif kind == "open":
            locked = [o for o in self.grid.grid if o is not None and o.type == "door" and o.is_locked]
            if locked and self._rand_float(0, 1) < self.key_in_hand_prob:
                return self._open_with_key_in_hand(locked[0])
            desc = self.rand_obj(types=["door"])
            if self._rand_float(0, 1) < self.open_target_prob:
                self._open_already(desc)
            self.subgoal = Open(target=desc_from_babyai(desc))
        elif kind == "put_next":
            move = desc_from_babyai(self.rand_obj(types=OBJ_TYPES_NOT_DOOR))
            self.subgoal = PutNext(target=move, next_to=desc_from_babyai(self.rand_obj()))
        else:
            obj = self._rand_elem(self.rand_obj(types=OBJ_TYPES_NOT_DOOR).obj_set)
            assert obj.cur_pos is not None  # a spare object lies on the grid
            x, y = obj.cur_pos
            self.grid.set(x, y, None)
            obj.cur_pos = None
            self._to_carry = obj
            self.subgoal = Drop(target=ObjectDesc(color=obj.color, type=obj.type))
        if kind != "drop" and self._rand_float(0, 1) < self.carry_prob:
            self._carry_something()
        return verifier_for(self.subgoal)

    def _declared(self, kind: KindSpec) -> CheckAsInstr:
        """A subgoal of a declared kind, each argument an object of the world its type allows."""
        types = {"door": ["door"], "movable": OBJ_TYPES_NOT_DOOR, "object": None}
        descs = [
            self._goal_square() if a.type == "goal" else desc_from_babyai(self.rand_obj(types=types[a.type]))
            for a in kind.arguments
        ]
        self.subgoal = kind.call(*descs)
        if self._rand_float(0, 1) < self.carry_prob:
            self._carry_something()
        return CheckAsInstr(kind, self.subgoal)

    def _goal_square(self) -> ObjectDesc:
        """A goal square put in a room other than the locked one, described by its colour."""
        rooms = [r for row in self.room_grid for r in row if r is not self.locked_room]
        room = self._rand_elem(rooms)
        goal = Goal()
        self.place_obj(goal, room.top, room.size, reject_fn=reject_next_to)
        return ObjectDesc(type="goal", color=goal.color)

    def validate_instrs(self, instr):
        """BabyAI's rejections, and for a declared kind a subgoal whose check holds already."""
        if not isinstance(instr, CheckAsInstr):
            return super().validate_instrs(instr)
        self.carrying = self._to_carry  # as it will be once reset hands it over
        try:
            instr.reset_verifier(self)
            if instr.verify(None) != "continue":
                raise RejectSampling(f"{instr.subgoal.to_text()!r} is decided before a step")
        finally:
            self.carrying = None

    def num_navs_needed(self, instr) -> int:
        if isinstance(instr, CheckAsInstr):
            return max(1, len(instr.subgoal.arguments))
        return super().num_navs_needed(instr)

    def _open_with_key_in_hand(self, door):
        """Open the locked door, starting with its key in hand: where a mission's open follows
        the planner's pick-up of the key (without such episodes the open skill put the key down).
        Half the time the agent stands where that pick-up leaves it, facing the key's cell."""
        key = next(o for o in self.grid.grid if o is not None and o.type == "key" and o.color == door.color)
        if self._rand_bool():
            self._face(key.cur_pos)
        self.grid.set(*key.cur_pos, None)
        key.cur_pos = None
        self._to_carry = key
        desc = ObjDesc("door", door.color)
        desc.find_matching_objs(self)
        self.subgoal = Open(target=desc_from_babyai(desc))
        return KeepKeyOpenInstr(desc)

    def _face(self, cell: tuple[int, int]) -> None:
        """Stand on a free cell beside ``cell``, facing it (stay put when none is free)."""
        poses = []
        for direction, step in enumerate(DIR_TO_VEC):
            x, y = cell[0] - step[0], cell[1] - step[1]
            if self.grid.get(x, y) is None:  # the outer wall keeps this inside the grid
                poses.append(((x, y), direction))
        if poses:
            self.agent_pos, self.agent_dir = self._rand_elem(poses)

    def _open_already(self, desc: ObjDesc) -> None:
        """Leave the target door open, as one opened earlier in a mission is: BabyAI then wants it
        toggled shut and open again. Only a door the description names alone ("the red door"),
        and not a locked one; the agent then knows it is the one."""
        if len(desc.obj_set) == 1 and not desc.obj_set[0].is_locked:
            desc.obj_set[0].is_open = True

    def _carry_something(self) -> None:
        """Start the episode holding an object the subgoal does not name (taken off the grid)."""
        named = arguments_of(self.subgoal) if self.subgoal is not None else []
        spare = [
            obj
            for obj in self.grid.grid
            if obj is not None
            and obj.type in OBJ_TYPES_NOT_DOOR
            and not any(d.matches(obj.color, obj.type) for d in named)
        ]
        if spare:
            obj = self._rand_elem(spare)
            assert obj.cur_pos is not None  # a spare object lies on the grid
            x, y = obj.cur_pos
            self.grid.set(x, y, None)
            obj.cur_pos = None
            self._to_carry = obj

    def reset(self, **kwargs):
        obs, info = super().reset(**kwargs)
        if self._to_carry is not None:
            self.carrying, self._to_carry = self._to_carry, None
            self.instrs.reset_verifier(self)
            obs = self.gen_obs()
        return obs, info


_LEVEL_NAMES = {"go_to": "GoTo", "pick_up": "Pickup", "open": "Open", "drop": "Drop", "put_next": "PutNext"}
_LOCAL = dict(num_rows=1, num_cols=1, num_dists=8)
_MAZE = dict(
    num_rows=3, num_cols=3, num_dists=18, locked_room_prob=0.5, locations=True, unblocking=True, carry_prob=0.3
)

_OPEN_MAZE = dict(key_in_hand_prob=1 / 2, open_target_prob=0.3)


def subgoal_level_ids() -> list[str]:
    """The ids :func:`register_subgoal_levels` registers."""
    return [f"Foreman-{name}{size}-v0" for name in _LEVEL_NAMES.values() for size in ("Local", "")]


def register_subgoal_levels() -> None:
    for kind, name in _LEVEL_NAMES.items():
        local = dict(_LOCAL, num_cols=2) if kind == "open" else _LOCAL
        for size, knobs in (("Local", local), ("", _MAZE)):
            register(
                id=f"Foreman-{name}{size}-v0",
                entry_point="foreman.envs.subgoal_levels:SubgoalLevel",
                kwargs=dict(knobs, subgoal_kind=kind, **(_OPEN_MAZE if (kind, size) == ("open", "") else {})),
            )


def register_declared_level(kind: KindSpec, **knobs) -> str:
    """Register the training level of a declared kind (``knobs``: :class:`SubgoalLevel`'s, BabyAI
    ``LevelGen``'s layout and more) and return its id."""
    env_id = f"Foreman-Kind-{kind.name}-v0"
    kwargs = dict(knobs, kind=kind.model_dump(mode="json"))
    if env_id not in registry or registry[env_id].kwargs != kwargs:
        register(id=env_id, entry_point="foreman.envs.subgoal_levels:SubgoalLevel", kwargs=kwargs)
    return env_id
