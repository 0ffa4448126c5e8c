"""Shortest known routes over the agent's memory map: how far, and which way to step first.

A cloned policy explores poorly when all it has is the map: it has to work out from pixels which
way leads round walls and through doors to unexplored space, and in BossLevel's nine rooms it
wanders (the put-next skill covered 100-140 cells in 1,152 steps when it failed). Here a
breadth-first search over the cells the agent remembers as passable (floor, open or closed
doors, locked ones only with their key in hand; keys, balls and boxes only where no route avoids
them, since the agent can lift a blocker aside) finds the nearest cell of a goal set (the
frontier of unseen cells, the subgoal's target, the free cells beside its ``next_to``, keys to
locked doors) and reports the route's length and the direction of its
first step in the agent's frame. It reads the agent's own memory only. The network decides what
to do with it (follow it, open a door, move a blocker, ignore it); the search acts on nothing.

The search runs on bitboards (Python integers, one bit per cell of the remembered area) so that
a step costs tens of microseconds, not a Python loop over cells.
"""

from __future__ import annotations

import numpy as np
from minigrid.core.constants import DIR_TO_VEC, OBJECT_TO_IDX

from foreman.envs import AgentMemory

_UNSEEN, _DOOR, _KEY, _LOCKED = OBJECT_TO_IDX["unseen"], OBJECT_TO_IDX["door"], OBJECT_TO_IDX["key"], 2
_FLOOR = [OBJECT_TO_IDX[t] for t in ("empty", "floor", "goal")]
_MOVABLE = [OBJECT_TO_IDX[t] for t in ("key", "ball", "box")]
_REACH = 20.0  # route lengths are scaled by this
ROUTE_FEATURES = 6
"""per goal set: reachable, length / 20, first step ahead / right / behind / left (one-hot)"""


def _bits(mask: np.ndarray) -> int:
    return int.from_bytes(np.packbits(mask.ravel(), bitorder="little").tobytes(), "little")


def unexplored(memory: AgentMemory) -> np.ndarray:
    """Cells the agent has neither seen nor stood on: the frontier goal set."""
    return (memory.grid[:, :, 0] == _UNSEEN) & ~memory.visited


def keys_to_locked_doors(memory: AgentMemory) -> np.ndarray:
    """Remembered keys of the colour of a remembered locked door."""
    kind, colour, state = memory.grid[:, :, 0], memory.grid[:, :, 1], memory.grid[:, :, 2]
    locked = np.unique(colour[(kind == _DOOR) & (state == _LOCKED)])
    return (kind == _KEY) & np.isin(colour, locked)


def drop_spots(memory: AgentMemory, match: np.ndarray) -> np.ndarray:
    """Free cells beside (not diagonal to) a matching one: where a carried object put down lies
    next to it, so a route to them ends facing such a cell."""
    beside = np.zeros_like(match)
    beside[1:] |= match[:-1]
    beside[:-1] |= match[1:]
    beside[:, 1:] |= match[:, :-1]
    beside[:, :-1] |= match[:, 1:]
    kind = memory.grid[:, :, 0]
    return beside & ((kind == OBJECT_TO_IDX["empty"]) | (memory.visited & (kind == _UNSEEN)))


def routes(memory: AgentMemory, goals: list[np.ndarray]) -> np.ndarray:
    """``ROUTE_FEATURES`` floats per goal set (``(N, N)`` bool masks in the memory's frame).

    A goal set that no known route reaches (or with no cell in the remembered area) reads all
    zeros; the agent's own cell in the set reads reachable at length 0 with no direction.
    """
    seen = memory.grid[:, :, 0] != _UNSEEN
    xs, ys = np.nonzero(seen.any(axis=1))[0], np.nonzero(seen.any(axis=0))[0]
    x, y = memory.position
    centre = AgentMemory.SIZE // 2
    x0 = max(min(xs[0], x + centre) - 1, 0)
    x1 = min(max(xs[-1], x + centre) + 2, AgentMemory.SIZE)
    y0 = max(min(ys[0], y + centre) - 1, 0)
    y1 = min(max(ys[-1], y + centre) + 2, AgentMemory.SIZE)
    window = memory.grid[x0:x1, y0:y1]
    width = int(y1 - y0 + 1)  # a column of zeros after each row stops shifts wrapping round
    passable = np.zeros((x1 - x0, width), dtype=bool)
    door = window[:, :, 0] == _DOOR
    carried = memory.carried_code
    opens = window[:, :, 2] != _LOCKED
    if carried[0] == _KEY:
        opens = opens | (window[:, :, 1] == carried[1])
    passable[:, :-1] = np.isin(window[:, :, 0], _FLOOR) | (door & opens)
    agent = int((x + centre - x0) * width + (y + centre - y0))
    passable[:, :-1] |= memory.visited[x0:x1, y0:y1]
    floor = _bits(passable)
    movable = np.zeros_like(passable)
    movable[:, :-1] = np.isin(window[:, :, 0], _MOVABLE)
    around = floor | _bits(movable)
    steps = [int(vec[0] * width + vec[1]) for vec in DIR_TO_VEC]  # bit offset of a step east, south, west, north
    beside = [1 << (agent + s) if 0 <= agent + s < passable.size else 0 for s in steps]
    facing = memory.direction  # an index into DIR_TO_VEC
    features = np.zeros((len(goals), ROUTE_FEATURES), dtype=np.float32)
    for row, goal in enumerate(goals):
        cells = np.zeros_like(passable)
        cells[:, :-1] = goal[x0:x1, y0:y1]
        wave = _bits(cells)
        if not wave:
            continue
        if wave >> agent & 1:
            features[row, 0] = 1.0
            continue
        found = _search(wave, floor, beside, width) or _search(wave, around, beside, width)
        if found:
            length, hit = found
            first = min(hit, key=lambda d: (d - facing) % 4)
            features[row, :2] = 1.0, length / _REACH
            features[row, 2 + (first - facing) % 4] = 1.0
    return features


def _search(wave: int, floor: int, beside: list[int], width: int) -> tuple[int, list[int]] | None:
    """Grow ``wave`` (goal cells) over ``floor`` until it touches a cell beside the agent: the
    route's length and the directions (indices into ``DIR_TO_VEC``) of those cells; None if it
    stops growing first."""
    length = 1
    while True:
        hit = [d for d in range(4) if wave & beside[d]]
        if hit:
            return length, hit
        grown = (wave | wave << 1 | wave >> 1 | wave << width | wave >> width) & floor | wave
        if grown == wave:
            return None
        wave, length = grown, length + 1
