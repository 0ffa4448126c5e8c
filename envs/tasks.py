"""A user's task judged by a check that comes from the task, never from the world's own mission.

A goal written in BabyAI's mission language (:func:`~foreman.envs.mission.parse_mission`) is
checked by BabyAI's verifier for that instruction, built fresh when the task starts: its clauses in
the order and combination the goal asks (And / Before / After), its "on your left" resolved
against the agent's pose when the task began. The world's reward, which answers the world's
mission, plays no part. A goal in other words has no such check of its own; then the agent judges
it by its plan's subgoals, each confirmed by its detector (see ``orchestrator.py``).

Works on any MiniGrid grid: where a world has no BabyAI rooms, the whole grid counts as the
room that "in front of you" and the like are resolved in.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from minigrid.core.actions import Actions
from minigrid.envs.babyai.core import verifier as babyai

from foreman.envs.detectors import Pose, Status, posed, verifiable, verifier_for
from foreman.envs.mission import After, And, Before, Instruction, MissionParseError, parse_mission


def to_babyai(instr: Instruction) -> babyai.Instr:
    """BabyAI's verifier instruction for one of ours (the inverse of ``from_babyai``): each clause
    checked as its subgoal's detector checks it."""
    if isinstance(instr, And):
        return babyai.AndInstr(to_babyai(instr.first), to_babyai(instr.second))
    if isinstance(instr, Before):
        return babyai.BeforeInstr(to_babyai(instr.first), to_babyai(instr.second))
    if isinstance(instr, After):  # BabyAI's AfterInstr(a, b): "a after you b", b done first
        return babyai.AfterInstr(to_babyai(instr.second), to_babyai(instr.first))
    return verifier_for(instr)


def instruction_of(goal: str) -> Instruction | None:
    """The goal as a BabyAI instruction, or None when it is not written in the mission language."""
    try:
        return parse_mission(goal.strip().rstrip("."))
    except MissionParseError:
        return None


class TaskVerifier:
    """BabyAI's verifier for an instruction, from the moment the task starts.

    Create it when the task starts (``anchor``: the agent's pose then), and call :meth:`step`
    once after every env step. Success and failure are final.
    """

    def __init__(self, instruction: Instruction, env: gym.Env, anchor: Pose | None = None):
        self.instruction = instruction
        self._instr: Any = to_babyai(instruction)
        world = verifiable(env)
        with posed(world, anchor):
            self._instr.reset_verifier(world)
        self.status: Status = "continue"

    def step(self, action: int) -> Status:
        if self.status == "continue":
            if action == Actions.drop:  # BabyAI's verifiers follow moved objects only when told
                _follow_moved(self._instr)
            self.status = self._instr.verify(action)
        return self.status


def _follow_moved(instr: Any) -> None:
    """Update where the objects of every clause are, after a drop (as a BabyAI level does for its
    own mission's instruction, clause by clause)."""
    if isinstance(instr, babyai.SeqInstr):
        _follow_moved(instr.instr_a)
        _follow_moved(instr.instr_b)
    else:
        instr.update_objs_poss()
