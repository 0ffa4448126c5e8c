"""BALROG's BabyAI levels (GLAM's MixedTrainLocal and MixedTestLocal), written from their description."""

from __future__ import annotations

from gymnasium.envs.registration import register
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
"""(colour, type) pairs missions of the train split never name; the test split names one always"""


def _named(instr) -> list[tuple[str | None, str]]:
    if isinstance(instr, BeforeInstr | AfterInstr):
        return _named(instr.instr_a) + _named(instr.instr_b)
    if isinstance(instr, PutNextInstr):
        return [(instr.desc_move.color, instr.desc_move.type), (instr.desc_fixed.color, instr.desc_fixed.type)]
    return [(instr.desc.color, instr.desc.type)]


class MixedLocalLevel(LevelGen):
    """
    ## Description

    The BabyAI level of the BALROG benchmark (Paglieri et al., 2024), introduced as
    "MixedTrainLocal" / "MixedTestLocal" by GLAM (Carta et al., 2023). Each episode draws one of
    five task kinds (or the one given as ``task``):

    - ``goto``: one room, 9 objects, "go to the C T";
    - ``pickup``: one room, 9 objects, "pick up the C T";
    - ``open``: two rooms side by side joined by a locked door; the agent starts outside the
      locked room, with the door's key in its room: "open the C door" or "open the door";
    - ``putnext``: one room, 10 objects, "put the C T next to the C T";
    - ``pick_up_seq_go_to``: one room, "pick up A, then go to B" or "go to B after you pick up A".

    Room size 8, 8 distractors, no location words, no unblocking. The train split rejects
    missions naming a yellow box, red key, red door, green ball or grey door; the test split
    accepts only missions that name one of them. Apart from ``open``, the agent's room has no
    door: the second room is walled off.

    ## Mission Space

    As above; C is a colour, T an object type.

    ## Action Space

    MiniGrid's seven actions (left, right, forward, pickup, drop, toggle, done).

    ## Observation Space

    MiniGrid's dict: ``image`` (7x7x3 egocentric view), ``direction`` and ``mission``.

    ## Rewards

    ``1 - 0.9 * (step_count / max_steps)`` on success, else 0 (BabyAI's).

    ## Termination

    The mission is done or failed (BabyAI's verifier), or ``max_steps`` (100, BALROG's limit)
    truncates the episode.

    ## Registered Configurations

    ``Foreman-MixedTrainLocal-v0`` (split "train") and ``Foreman-MixedTestLocal-v0`` (split
    "test"), both with ``max_steps=100``; pass ``task=`` to draw a single kind.
    """

    def __init__(self, split: str = "train", task: str | None = None, room_size: int = 8, num_dists: int = 8, **kwargs):
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        if task is not None and task not in TASKS:
            raise ValueError(f"unknown task {task!r}; expected one of {TASKS}")
        self.split, self.task, self.task_kind = split, task, task
        kwargs.setdefault("max_steps", 100)
        super().__init__(
            room_size=room_size,
            num_rows=1,
            num_cols=2,
            num_dists=num_dists,
            locations=False,
            unblocking=False,
            **kwargs,
        )

    def gen_mission(self):
        self.task_kind = self.task or self._rand_elem(TASKS)
        if self.task_kind == "open":
            door, _ = self.add_door(0, 0, 0, locked=True)  # the right wall of room (0, 0)
            self.add_object(0, 0, "key", door.color)
            self.add_distractors(0, 0, num_distractors=self.num_dists, all_unique=False)
            self.place_agent(0, 0)
            color = door.color if self._rand_bool() else None
            self.instrs = OpenInstr(ObjDesc("door", color))
        else:
            count = self.num_dists + (2 if self.task_kind == "putnext" else 1)
            objs = self.add_distractors(0, 0, num_distractors=count, all_unique=False)
            self.place_agent(0, 0)
            a, b = self._rand_subset(objs, 2)
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
        named = any(pair in HELD_OUT for pair in _named(self.instrs))
        if named != (self.split == "test"):
            raise RejectSampling(f"the {self.split} split does not take this mission")
        self.check_objs_reachable()


def register_balrog_levels() -> None:
    for name, split in (("MixedTrainLocal", "train"), ("MixedTestLocal", "test")):
        register(
            id=f"Foreman-{name}-v0",
            entry_point="foreman.envs.balrog_levels:MixedLocalLevel",
            kwargs={"split": split, "max_steps": 100},
        )
