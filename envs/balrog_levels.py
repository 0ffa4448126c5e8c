"""BALROG's BabyAI levels (GLAM's MixedTrainLocal and MixedTestLocal), laid out as BALROG's code lays
them out (its config, and the level classes of the MiniGrid fork it installs)."""

from __future__ import annotations

from gymnasium.envs.registration import register
from minigrid.core.constants import COLOR_NAMES
from minigrid.envs.babyai.core.levelgen import LevelGen
from minigrid.envs.babyai.core.roomgrid_level import RejectSampling
from minigrid.envs.babyai.core.verifier import (
    AfterInstr,
    BeforeInstr,
    GoToInstr,
    ObjDesc,
    OpenInstr,
    PickupInstr,
    PutNextInstr,
)

TASKS = ("goto", "pickup", "open", "putnext", "pick_up_seq_go_to")
HELD_OUT = {("yellow", "box"), ("red", "key"), ("red", "door"), ("green", "ball"), ("grey", "door")}
"""(colour, type) pairs missions of the train split never name; the test split names only these"""


def _named(instr) -> list[tuple[str | None, str]]:
    if isinstance(instr, BeforeInstr | AfterInstr):
        return _named(instr.instr_a) + _named(instr.instr_b)
    if isinstance(instr, PutNextInstr):
        return [(instr.desc_move.color, instr.desc_move.type), (instr.desc_fixed.color, instr.desc_fixed.type)]
    return [(instr.desc.color, instr.desc.type)]


SETTINGS = {"balrog": 0, "glam": 8}
"""distractors per setting: BALROG's config since its PR #11 (2024-12-10) passes ``num_dists: 0``;
GLAM, and BALROG before that change, used the level's default of 8"""
_MOVABLE_HELD_OUT = sorted(pair for pair in HELD_OUT if pair[1] != "door")
_DOOR_COLORS = {"train": [c for c in COLOR_NAMES if c not in ("red", "grey")], "test": ["red", "grey"]}


class MixedLocalLevel(LevelGen):
    """
    ## Description

    The BabyAI level of the BALROG benchmark (Paglieri et al., 2024), introduced as
    "MixedTrainLocal" / "MixedTestLocal" by GLAM (Carta et al., 2023), laid out as BALROG's code
    lays it out. Each episode draws one of five task kinds (or the one given as ``task``):

    - ``goto``: one 8x8 room, the target and ``num_dists`` distractors: "go to the C T";
    - ``pickup``: the same: "pick up the C T";
    - ``open``: two rooms side by side joined by a locked door at a random height of their shared
      wall; the agent starts in the left or the right one, with the door's key and the
      distractors: "open the C door" or "open the door";
    - ``putnext``: one room, ``num_dists`` + 2 objects: "put the C T next to the C T";
    - ``pick_up_seq_go_to``: one room, ``num_dists`` + 2 objects: "pick up A, then go to B" or
      "go to B after you pick up A".

    No location words, no unblocking. The agent is placed before the objects, which never land
    beside it. The train split rejects missions naming a yellow box, red key, red door, green ball
    or grey door, and its doors are never red or grey; the test split (GLAM's) names only those
    pairs: its targets are drawn from them.

    ## Mission Space

    As above; C is a colour, T an object type.

    ## Action Space

    MiniGrid's seven actions (left, right, forward, pickup, drop, toggle, done).

    ## Observation Space

    MiniGrid's dict: ``image`` (7x7x3 egocentric view), ``direction`` and ``mission``.

    ## Rewards

    ``1 - 0.9 * (step_count / max_steps)`` on success, else 0 (BabyAI's).

    ## Termination

    The mission is done or failed (BabyAI's verifier), or the level's own step limit truncates
    the episode: 64 steps per navigation per room (64 for goto and pickup, 128 for the others).

    ## Registered Configurations

    ``Foreman-MixedTrainLocal-v0`` (split "train") and ``Foreman-MixedTestLocal-v0`` (split
    "test"); pass ``task=`` to draw a single kind and ``setting=`` for the distractors: "balrog"
    (none, BALROG's current config, the default) or "glam" (8, GLAM's and BALROG's before 2024-12-10).
    """

    def __init__(
        self,
        split: str = "train",
        task: str | None = None,
        setting: str = "balrog",
        room_size: int = 8,
        num_dists: int | None = None,
        **kwargs,
    ):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        if task is not None and task not in TASKS:
            raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
        if setting not in SETTINGS:
            raise ValueError(f"unknown setting {setting!r}; expected one of {tuple(SETTINGS)}")
        self.split, self.task, self.task_kind, self.setting = split, task, task, setting
        super().__init__(
            room_size=room_size,
            num_rows=1,
            num_cols=2,
            num_dists=SETTINGS[setting] if num_dists is None else num_dists,
            locations=False,
            unblocking=False,
            **kwargs,
        )

    def _gen_grid(self, width, height):
        """Draws the kind first: ``open`` takes two rooms, the other kinds one."""
        self.task_kind = self.task or self._rand_elem(TASKS)
        self.num_cols = 2 if self.task_kind == "open" else 1
        self.width = (self.room_size - 1) * self.num_cols + 1
        super()._gen_grid(self.width, height)

    def _targets(self, count: int) -> list:
        """``count`` objects for the mission to name: random ones, or on the test split held-out pairs."""
        if self.split == "train":
            return [self.add_object(0, 0)[0] for _ in range(count)]
        pairs = self._rand_subset(_MOVABLE_HELD_OUT, count)
        return [self.add_object(0, 0, kind, color)[0] for color, kind in pairs]

    def gen_mission(self):
        if self.task_kind == "open":
            here = self._rand_int(0, 2)  # the agent's room; the locked one is beside it
            self.place_agent(here, 0)
            color = self._rand_elem(_DOOR_COLORS[self.split])
            door, _ = self.add_door(here, 0, 0 if here == 0 else 2, color=color, locked=True)
            self.add_object(here, 0, "key", door.color)
            self.add_distractors(here, 0, num_distractors=self.num_dists, all_unique=False)
            named = door.color if self.split == "test" or self._rand_bool() else None
            self.instrs = OpenInstr(ObjDesc("door", named))
        else:
            self.place_agent(0, 0)
            targets = self._targets(1 if self.task_kind in ("goto", "pickup") else 2)
            self.add_distractors(0, 0, num_distractors=self.num_dists, all_unique=False)
            a, b = (targets * 2)[:2]
            desc_a, desc_b = ObjDesc(a.type, a.color), ObjDesc(b.type, b.color)
            if self.task_kind == "goto":
                self.instrs = GoToInstr(desc_a)
            elif self.task_kind == "pickup":
                self.instrs = PickupInstr(desc_a)
            elif self.task_kind == "putnext":
                self.instrs = PutNextInstr(desc_a, desc_b)
            elif self._rand_bool():
                self.instrs = BeforeInstr(PickupInstr(desc_a), GoToInstr(desc_b))
            else:
                self.instrs = AfterInstr(GoToInstr(desc_b), PickupInstr(desc_a))
        if self.split == "train" and any(pair in HELD_OUT for pair in _named(self.instrs)):
            raise RejectSampling("the train split does not name held-out pairs")
        self.check_objs_reachable()


def register_balrog_levels() -> None:
    for name, split in (("MixedTrainLocal", "train"), ("MixedTestLocal", "test")):
        register(
            id=f"Foreman-{name}-v0",
            entry_point="foreman.envs.balrog_levels:MixedLocalLevel",
            kwargs={"split": split},
        )
