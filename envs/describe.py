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
from minigrid.core.constants import COLOR_TO_IDX, DIR_TO_VEC, IDX_TO_COLOR, IDX_TO_OBJECT, OBJECT_TO_IDX

from foreman.envs.mission import ObjectDesc

_DESCRIBED = {OBJECT_TO_IDX[t] for t in ("door", "key", "ball", "box", "goal", "lava")}
_PASSABLE = {OBJECT_TO_IDX[t] for t in ("empty", "floor", "goal", "lava")}
_DOOR, _UNSEEN = OBJECT_TO_IDX["door"], OBJECT_TO_IDX["unseen"]
_ROOM_EDGE = {OBJECT_TO_IDX["wall"], _DOOR}
_DOOR_STATES = ("open", "closed", "locked")
_FORWARD, _PICKUP, _DROP = 2, 3, 4  # minigrid.core.actions.Actions


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
        """How the planner reads it: "locked yellow door", "green goal square", "lava" (always red)."""
        if self.type == "lava":
            return "lava"
        words = (self.door_state, self.color, "goal square" if self.type == "goal" else self.type)
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
    if obj_type == "goal":
        return f"{IDX_TO_COLOR[int(cell[1])]} goal square"
    if int(cell[0]) in _DESCRIBED and obj_type != "lava":
        return f"{IDX_TO_COLOR[int(cell[1])]} {obj_type}"
    return obj_type


class AgentMemory:
    """A map of what the agent has seen, built by dead reckoning from its observations.

    Call :meth:`observe` with the first observation after ``reset`` and then after every step
    with the action that was taken. The map is a ``(N, N, 3)`` array of MiniGrid cell codes in
    the episode's frame (the start cell at the centre, x east, y south; unseen cells are 0), plus
    the cells the agent has stood on. Skills read it through :meth:`crop`, in the agent's frame.
    """

    SIZE = 97
    """cells per side: any grid up to 48 cells wide fits whatever the start cell"""

    def __init__(self) -> None:
        self.grid = np.zeros((self.SIZE, self.SIZE, 3), dtype=np.uint8)
        self.visited = np.zeros((self.SIZE, self.SIZE), dtype=bool)
        self._pos = np.zeros(2, dtype=int)
        self._dir = 0
        self.start_dir = 0
        """the heading locations ("on your left") are judged from: the task's first"""
        self._anchor = np.zeros(2, dtype=int)
        self._view: np.ndarray | None = None
        self._room_cache: tuple[bytes, np.ndarray] | None = None
        self._origins: dict[tuple[int, int], tuple[int, int]] = {}
        """cell of an object the agent put down -> the cell where that object first stood"""
        self._held_origin: tuple[int, int] | None = None
        self._unnamed: set[tuple[int, int]] = set()
        """cells where the agent put down what it held when the task began: BabyAI's descriptions
        name what lay in the world then, so "pick up a box" is never the box just set down"""
        self._held_at_anchor = False

    @property
    def view(self) -> np.ndarray:
        """The latest egocentric view; an error before the first ``observe``, not a None to trip on."""
        if self._view is None:
            raise RuntimeError("AgentMemory.observe(obs) must be called before the memory is read")
        return self._view

    def observe(self, obs: dict, action: int | None = None) -> None:
        image = np.asarray(obs["image"])
        held_before = action is not None and int(self.carried_code[0]) in _DESCRIBED
        front = self._index(self._pos + DIR_TO_VEC[self._dir])
        if action is None:
            self.grid[:] = 0
            self.visited[:] = False
            self._pos = np.zeros(2, dtype=int)
            self._dir = int(obs["direction"])
        elif action == _FORWARD and self._front_passable():
            self._pos = self._pos + DIR_TO_VEC[self._dir]
        self._dir = int(obs["direction"])
        self._view = image
        self.visited[self._index(self._pos)] = True
        size = image.shape[0]
        seen = image[:, :, 0] != _UNSEEN
        seen[size // 2, size - 1] = False  # the agent's own cell shows what it carries
        i, j = np.nonzero(seen)
        ahead, right = size - 1 - j, i - size // 2
        forward = DIR_TO_VEC[self._dir]
        right_vec = np.array((-forward[1], forward[0]))
        x = self._pos[0] + ahead * forward[0] + right * right_vec[0] + self.SIZE // 2
        y = self._pos[1] + ahead * forward[1] + right * right_vec[1] + self.SIZE // 2
        self.grid[x, y] = image[i, j]
        held_now = int(self.carried_code[0]) in _DESCRIBED
        if action is None:
            self.anchor_here()
        elif action == _PICKUP and held_now and not held_before:
            self._held_at_anchor = front in self._unnamed
            self._unnamed.discard(front)
            self._held_origin = self._origins.pop(front, front)
        elif action == _DROP and held_before and not held_now:
            if self._held_at_anchor:
                self._unnamed.add(front)
            else:
                self._origins[front] = self._held_origin or front
            self._held_at_anchor = False

    def anchor_here(self) -> None:
        """Judge locations ("the box on your left") from the pose the agent is in now.

        A task's locations are fixed when it starts (BabyAI's are), and a session's later task
        starts wherever the earlier one left the agent; the map itself carries over.
        """
        self._anchor = self._pos.copy()
        self.start_dir = self._dir
        self._origins, self._held_origin = {}, None
        self._unnamed, self._held_at_anchor = set(), self.carrying is not None
        self._room_cache = None

    def _index(self, cell) -> tuple[int, int]:
        return int(cell[0]) + self.SIZE // 2, int(cell[1]) + self.SIZE // 2

    def egocentric(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ahead, right) of cells ``(K, 2)`` given in the memory's frame (start cell (0, 0))."""
        forward = DIR_TO_VEC[self._dir]
        right_vec = np.array((-forward[1], forward[0]))
        offset = np.asarray(cells) - self._pos
        return offset @ forward, offset @ right_vec

    def crop(self, layers: np.ndarray, radius: int) -> np.ndarray:
        """``layers[x, y, ...]`` (in the memory's frame) around the agent, in the agent's frame.

        Row 0 is ``radius`` cells ahead, the last row ``radius`` behind; column 0 is ``radius``
        cells to the left. Cells beyond the memory's edge read as 0.
        """
        steps = np.arange(radius, -radius - 1, -1)
        ahead, right = steps[:, None], -steps[None, :]
        forward = DIR_TO_VEC[self._dir]
        right_vec = np.array((-forward[1], forward[0]))
        x = self._pos[0] + ahead * forward[0] + right * right_vec[0] + self.SIZE // 2
        y = self._pos[1] + ahead * forward[1] + right * right_vec[1] + self.SIZE // 2
        inside = (x >= 0) & (x < self.SIZE) & (y >= 0) & (y < self.SIZE)
        out = layers[np.clip(x, 0, self.SIZE - 1), np.clip(y, 0, self.SIZE - 1)]
        out[~inside] = 0
        return out

    def matching(self, desc: ObjectDesc) -> np.ndarray:
        """``(N, N)`` bool: remembered cells holding an object that fits ``desc``.

        A location ("on your left") is BabyAI's: relative to the anchor pose (see
        :meth:`anchor_here`; the episode's start unless moved), and only objects in the anchor's
        room count; that room is what the remembered walls and doors enclose around the anchor
        cell. BabyAI fixes which objects a location names when the mission
        starts, so an object the agent has moved is judged where it first stood ("pick up the box
        behind you" after putting that box next to a ball in another room).
        """
        match = np.zeros((self.SIZE, self.SIZE), dtype=bool)
        for code in _DESCRIBED:
            name = IDX_TO_OBJECT[code]
            if desc.type is not None and desc.type != name:
                continue
            if desc.type is None and name not in ("key", "ball", "box", "door"):
                continue
            layer = self.grid[:, :, 0] == code
            if desc.color is not None:
                layer &= self.grid[:, :, 1] == COLOR_TO_IDX[desc.color]
            match |= layer
        for cell in self._unnamed:
            match[cell] = False
        if desc.location is not None:
            named = self._start_room() & self._half_plane(desc.location)
            moved = [(cell, origin) for cell, origin in self._origins.items() if match[cell]]
            match &= named
            for cell, origin in moved:
                match[cell] = named[origin]
        return match

    def _half_plane(self, location: str) -> np.ndarray:
        coords = np.arange(self.SIZE) - self.SIZE // 2
        dx, dy = coords[:, None] - self._anchor[0], coords[None, :] - self._anchor[1]
        forward = DIR_TO_VEC[self.start_dir]
        ahead = dx * forward[0] + dy * forward[1]
        right = -dx * forward[1] + dy * forward[0]
        return {"front": ahead > 0, "behind": ahead < 0, "left": right < 0, "right": right > 0}[location]

    def _start_room(self, reach: int = 8) -> np.ndarray:
        """Remembered cells reachable from the anchor without crossing a wall or door (or going
        more than ``reach`` cells away), plus the walls, doors and unseen cells that stop the search.

        An anchor in a doorway counts as in the room east of it (a door in a north-south wall)
        or south of it, as BabyAI's ``room_from_pos`` places it.
        """
        cx, cy = self._index(self._anchor)
        x0, y0 = max(cx - reach, 0), max(cy - reach, 0)
        x1, y1 = min(cx + reach + 1, self.SIZE), min(cy + reach + 1, self.SIZE)
        window = self.grid[x0:x1, y0:y1, 0]
        stood = self.visited[x0:x1, y0:y1]
        key = window.tobytes() + stood.tobytes()
        if self._room_cache is None or self._room_cache[0] != key:
            open_cells = ~np.isin(window, [*_ROOM_EDGE, _UNSEEN])  # no leaking round unseen walls
            open_cells |= stood & (window == _UNSEEN)  # the agent's own cell is never in view
            room = np.zeros(window.shape, dtype=bool)
            ax, ay = cx - x0, cy - y0
            room[ax, ay] = True
            if not open_cells[ax, ay]:
                north_south_wall = all(0 <= ay + d < y1 - y0 and window[ax, ay + d] in _ROOM_EDGE for d in (-1, 1))
                ix, iy = (ax + 1, ay) if north_south_wall else (ax, ay + 1)
                if ix < x1 - x0 and iy < y1 - y0:
                    room[ix, iy] = True
            while True:
                inner = room & open_cells
                grown = room.copy()
                grown[1:] |= inner[:-1]
                grown[:-1] |= inner[1:]
                grown[:, 1:] |= inner[:, :-1]
                grown[:, :-1] |= inner[:, 1:]
                if np.array_equal(grown, room):
                    break
                room = grown
            full = np.zeros((self.SIZE, self.SIZE), dtype=bool)
            full[x0:x1, y0:y1] = room
            self._room_cache = (key, full)
        return self._room_cache[1]

    def _front(self) -> np.ndarray:
        size = self.view.shape[0]
        return self.view[size // 2, size - 2]

    def _front_passable(self) -> bool:
        front = self._front()
        return int(front[0]) in _PASSABLE or (front[0] == _DOOR and front[2] == 0)

    @property
    def carried_code(self) -> np.ndarray:
        """The carried object's MiniGrid code (type, colour, state); type 1 (empty) if none."""
        size = self.view.shape[0]
        return self.view[size // 2, size - 1]

    @property
    def carrying(self) -> str | None:
        """The carried object's name ("red ball"), or None."""
        size = self.view.shape[0]
        cell = self.view[size // 2, size - 1]
        return _cell_name(cell) if int(cell[0]) in _DESCRIBED else None

    @property
    def position(self) -> tuple[int, int]:
        """The agent's cell in the memory's frame (the start cell is (0, 0); x east, y south)."""
        return int(self._pos[0]), int(self._pos[1])

    @property
    def direction(self) -> int:
        """The agent's heading, MiniGrid's: 0 east, 1 south, 2 west, 3 north."""
        return self._dir

    def objects(self) -> list[SeenObject]:
        """Everything remembered, nearest first; ``in_view`` marks what is visible now."""
        size = self.view.shape[0]
        seen = []
        for x, y in np.argwhere(np.isin(self.grid[:, :, 0], list(_DESCRIBED))):
            obj_type, color, state = (int(v) for v in self.grid[x, y])
            ahead, right = (int(v) for v in self.egocentric(np.array([x, y]) - self.SIZE // 2))
            i, j = right + size // 2, size - 1 - ahead
            in_view = 0 <= i < size and 0 <= j < size and self.view[i, j, 0] != _UNSEEN
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
    if name == "lava":
        return "lava"
    return ("an " if name[0] in "aeiou" else "a ") + name


def _listing(objects: list[SeenObject], empty: str) -> str:
    return "; ".join(f"{_a(o.name)} ({o.where})" for o in objects) or empty
