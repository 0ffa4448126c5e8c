"""What the agent knows, in words: built from its own observations, never from env state.

:class:`AgentMemory` keeps a map of every object and door the agent has seen. It places the
egocentric view in a fixed frame by dead reckoning: the compass (``obs["direction"]``) gives the
heading, and a ``forward`` moves the agent one cell exactly when the cell it faced was passable
(MiniGrid's own rule: empty, floor, goal, lava or an open door). A remembered cell is updated
whenever it is in view again, so objects picked up or moved, and doors opened, are kept current.
It works across rooms because the frame is the whole episode's, not a room's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from minigrid.core.constants import DIR_TO_VEC, IDX_TO_COLOR, IDX_TO_OBJECT, OBJECT_TO_IDX

_DESCRIBED = {OBJECT_TO_IDX[t] for t in ("door", "key", "ball", "box", "goal", "lava")}
_PASSABLE = {OBJECT_TO_IDX[t] for t in ("empty", "floor", "goal", "lava")}
_DOOR, _UNSEEN = OBJECT_TO_IDX["door"], OBJECT_TO_IDX["unseen"]
_DOOR_STATES = ("open", "closed", "locked")
_FORWARD = 2  # minigrid.core.actions.Actions.forward


@dataclass(frozen=True)
class SeenObject:
    """An object or door the agent has seen, placed relative to the agent now."""

    type: str
    color: str
    door_state: str | None
    ahead: int
    right: int
    in_view: bool

    @property
    def name(self) -> str:
        words = (self.door_state, self.color, self.type)
        return " ".join(w for w in words if w)

    @property
    def where(self) -> str:
        parts = []
        if self.ahead:
            parts.append(f"{abs(self.ahead)} {'ahead' if self.ahead > 0 else 'behind'}")
        if self.right:
            parts.append(f"{abs(self.right)} {'right' if self.right > 0 else 'left'}")
        return ", ".join(parts) or "where you stand"


def _cell_name(cell: np.ndarray) -> str:
    obj_type = IDX_TO_OBJECT[int(cell[0])]
    if obj_type == "door":
        return f"{_DOOR_STATES[int(cell[2])]} {IDX_TO_COLOR[int(cell[1])]} door"
    if int(cell[0]) in _DESCRIBED:
        return f"{IDX_TO_COLOR[int(cell[1])]} {obj_type}"
    return obj_type


class AgentMemory:
    """A map of what the agent has seen, built by dead reckoning from its observations.

    Call :meth:`observe` with the first observation after ``reset`` and then after every step
    with the action that was taken.
    """

    def __init__(self) -> None:
        self._cells: dict[tuple[int, int], tuple[int, int, int]] = {}
        self._pos = np.zeros(2, dtype=int)
        self._dir = 0
        self._view: np.ndarray | None = None

    def observe(self, obs: dict, action: int | None = None) -> None:
        image = np.asarray(obs["image"])
        if action is None:
            self._cells.clear()
            self._pos = np.zeros(2, dtype=int)
        elif action == _FORWARD and self._front_passable():
            self._pos = self._pos + DIR_TO_VEC[self._dir]
        self._dir = int(obs["direction"])
        self._view = image
        size = image.shape[0]
        for i in range(size):
            for j in range(size):
                if (i, j) == (size // 2, size - 1):
                    continue  # the agent's own cell shows what it carries
                cell = image[i, j]
                if cell[0] == _UNSEEN:
                    continue
                key = self._world(size - 1 - j, i - size // 2)
                if cell[0] in _DESCRIBED:
                    self._cells[key] = (int(cell[0]), int(cell[1]), int(cell[2]))
                else:
                    self._cells.pop(key, None)

    def _world(self, ahead: int, right: int) -> tuple[int, int]:
        forward = DIR_TO_VEC[self._dir]
        right_vec = np.array((-forward[1], forward[0]))
        x, y = self._pos + ahead * forward + right * right_vec
        return int(x), int(y)

    def _egocentric(self, cell: tuple[int, int]) -> tuple[int, int]:
        forward = DIR_TO_VEC[self._dir]
        right_vec = np.array((-forward[1], forward[0]))
        offset = np.array(cell) - self._pos
        return int(offset @ forward), int(offset @ right_vec)

    def _front(self) -> np.ndarray:
        size = self._view.shape[0]
        return self._view[size // 2, size - 2]

    def _front_passable(self) -> bool:
        front = self._front()
        return int(front[0]) in _PASSABLE or (front[0] == _DOOR and front[2] == 0)

    @property
    def carrying(self) -> str | None:
        """The carried object's name ("red ball"), or None."""
        size = self._view.shape[0]
        cell = self._view[size // 2, size - 1]
        return _cell_name(cell) if int(cell[0]) in _DESCRIBED else None

    @property
    def position(self) -> tuple[int, int]:
        """The agent's cell in the memory's frame (the start cell is (0, 0); x east, y south)."""
        return int(self._pos[0]), int(self._pos[1])

    def objects(self) -> list[SeenObject]:
        """Everything remembered, nearest first; ``in_view`` marks what is visible now."""
        size = self._view.shape[0]
        seen = []
        for cell, (obj_type, color, state) in self._cells.items():
            ahead, right = self._egocentric(cell)
            i, j = right + size // 2, size - 1 - ahead
            in_view = 0 <= i < size and 0 <= j < size and self._view[i, j, 0] != _UNSEEN
            seen.append(
                SeenObject(
                    type=IDX_TO_OBJECT[obj_type],
                    color=IDX_TO_COLOR[color],
                    door_state=_DOOR_STATES[state] if obj_type == _DOOR else None,
                    ahead=ahead,
                    right=right,
                    in_view=in_view,
                )
            )
        return sorted(seen, key=lambda o: (abs(o.ahead) + abs(o.right), -o.ahead, o.right, o.name))

    def describe(self) -> str:
        """The agent's knowledge as a few lines of text, for the planner and for feedback."""
        objects = self.objects()
        in_view = [o for o in objects if o.in_view]
        remembered = [o for o in objects if not o.in_view]
        front = self._front()
        facing = _cell_name(front) if int(front[0]) != OBJECT_TO_IDX["empty"] else "nothing"
        lines = [
            f"You carry {_a(self.carrying) if self.carrying else 'nothing'}.",
            f"In front of you: {_a(facing) if facing != 'nothing' else 'nothing'}.",
            "You see: " + _listing(in_view, "nothing else") + ".",
        ]
        if remembered:
            lines.append("Seen earlier, out of view: " + _listing(remembered, "") + ".")
        return "\n".join(lines)


def _a(name: str) -> str:
    return ("an " if name[0] in "aeiou" else "a ") + name


def _listing(objects: list[SeenObject], empty: str) -> str:
    return "; ".join(f"{_a(o.name)} ({o.where})" for o in objects) or empty
