"""What a skill sees: the agent's memory map around it, in its own frame, and its subgoal.

A skill acts from the agent's :class:`~foreman.envs.AgentMemory`, which is built from egocentric
views only (the agent's own memory, no env state). Each step it is cut into:

- ``cells``: the 15x15 cells around the agent (MiniGrid codes: type, colour, state), ahead up;
- ``flags``: for those cells, visited before / fits the subgoal's target / fits its ``next_to``;
- ``coarse``: a 45x45 neighbourhood pooled 3x3 into 15x15 counts of unseen, wall, door, object,
  target, next-to and visited cells, so rooms far away and unexplored space stay in view;
- ``vector``: the subgoal (kind, descriptions), what is carried, the offset to the nearest
  remembered target and next-to object, which may lie beyond both maps, and the shortest known
  routes to unexplored space, the target, a free cell beside the next-to object and a key to
  a locked door (:mod:`foreman.skills.routes`).

Matching a description against the map (colour, type, BabyAI's start-relative locations) is the
memory's job (:meth:`AgentMemory.matching`); choosing actions is the network's.
"""

from __future__ import annotations

import numpy as np
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX

from foreman.envs import (
    COLORS,
    LOCATIONS,
    OBJECT_TYPES,
    SUBGOAL_KINDS,
    AgentMemory,
    ObjectDesc,
    Subgoal,
    arguments_of,
)
from foreman.skills.routes import ROUTE_FEATURES, drop_spots, keys_to_locked_doors, routes, unexplored

FINE_RADIUS = 7
COARSE_RADIUS = 22
POOL = 3
FINE = 2 * FINE_RADIUS + 1
COARSE = (2 * COARSE_RADIUS + 1) // POOL
COARSE_CHANNELS = 7
_REACH = 20.0  # offsets to remembered objects are scaled by this
_OBJECTS = [OBJECT_TO_IDX[t] for t in ("key", "ball", "box")]


def _desc_features(desc: ObjectDesc | None) -> list[float]:
    present = [1.0 if desc is not None else 0.0]
    color = [float(desc is not None and desc.color == c) for c in COLORS]
    kind = [float(desc is not None and desc.type == t) for t in OBJECT_TYPES]
    location = [float(desc is not None and desc.location == loc) for loc in LOCATIONS]
    return present + color + kind + location


def roles(subgoal: Subgoal) -> tuple[ObjectDesc | None, ObjectDesc | None]:
    """The descriptions a skill's input marks: its target (the first argument) and the object
    it acts beside (the second), whatever its kind calls them."""
    named: list[ObjectDesc | None] = [*arguments_of(subgoal), None, None]
    return named[0], named[1]


def encode_subgoal(subgoal: Subgoal) -> np.ndarray:
    """A fixed-size vector: the mission language's kind one-hot (all zeros for a declared kind:
    a network serves one kind, so adding kinds never changes its input), then the target's and
    the next-to object's descriptions."""
    kind = [float(subgoal.kind == k) for k in SUBGOAL_KINDS]
    target, next_to = roles(subgoal)
    return np.asarray(kind + _desc_features(target) + _desc_features(next_to), dtype=np.float32)


SUBGOAL_FEATURES = len(SUBGOAL_KINDS) + 2 * len(_desc_features(None))
ROUTES = 4 * ROUTE_FEATURES
"""the vector's last entries; networks trained before routes existed read the vector without them"""
VECTOR = SUBGOAL_FEATURES + len(OBJECT_TYPES) + len(COLORS) + 6 + ROUTES


_TARGET = len(SUBGOAL_KINDS)  # where the target's description starts in the vector
_CARRIED = SUBGOAL_FEATURES  # where what is carried starts: its type, then its colour


def carrying_target(vector: np.ndarray) -> np.ndarray:
    """Whether observations (their ``vector``\\ s, any leading axes) show a carried object that
    the subgoal's target describes (its colour and type; locations are not in the vector)."""
    colors, types = len(COLORS), len(OBJECT_TYPES)
    present = vector[..., _TARGET] > 0
    want_color = vector[..., _TARGET + 1 : _TARGET + 1 + colors]
    want_type = vector[..., _TARGET + 1 + colors : _TARGET + 1 + colors + types]
    held_type = vector[..., _CARRIED : _CARRIED + types]
    held_color = vector[..., _CARRIED + types : _CARRIED + types + colors]
    held = held_type.sum(-1) > 0
    fits_type = (want_type.sum(-1) == 0) | ((want_type * held_type).sum(-1) > 0)
    fits_color = (want_color.sum(-1) == 0) | ((want_color * held_color).sum(-1) > 0)
    return present & held & fits_type & fits_color


def _nearest(memory: AgentMemory, match: np.ndarray) -> list[float]:
    """Present flag and (ahead, right) offset, scaled, of the nearest matching cell."""
    cells = np.argwhere(match) - AgentMemory.SIZE // 2
    if len(cells) == 0:
        return [0.0, 0.0, 0.0]
    ahead, right = memory.egocentric(cells)
    nearest = int(np.argmin(np.abs(ahead) + np.abs(right)))
    return [1.0, ahead[nearest] / _REACH, right[nearest] / _REACH]


def target_cells(memory: AgentMemory, subgoal: Subgoal) -> np.ndarray:
    """``(N, N)`` bool: where the subgoal's target is remembered.

    For ``open``, doors remembered open are left out unless the description names one door
    ("the red door") and no shut one matches. Why: an open door counts only once toggled shut and
    open again, and the open skill, trained in mazes whose doors all start shut, never met an open
    target; in BossLevel, after "open a red door", "open a door" led it back to the red door,
    where it paced until its step budget ran out, when another door lay beyond it unexplored.
    A door told by its place ("a grey door on your right") stays a target when open: a place names
    doors of the start room, already seen, so no exploring finds another.
    """
    target, _ = roles(subgoal)
    if target is None:
        return np.zeros((AgentMemory.SIZE, AgentMemory.SIZE), dtype=bool)
    match = memory.matching(target)
    if subgoal.kind == "open":
        grid = memory.grid
        shut = match & ~((grid[:, :, 0] == OBJECT_TO_IDX["door"]) & (grid[:, :, 2] == STATE_TO_IDX["open"]))
        if shut.any() or (target.article == "a" and target.location is None):
            return shut
    return match


def observe(memory: AgentMemory, subgoal: Subgoal) -> dict[str, np.ndarray]:
    """The network's input for one step (arrays without a batch axis)."""
    _, next_to = roles(subgoal)
    size = AgentMemory.SIZE
    target_match = target_cells(memory, subgoal)
    next_match = memory.matching(next_to) if next_to is not None else np.zeros((size, size), dtype=bool)
    layers = np.stack([memory.visited, target_match, next_match], axis=2).astype(np.uint8)
    cells = memory.crop(memory.grid, FINE_RADIUS)
    flags = memory.crop(layers, FINE_RADIUS)
    wide = memory.crop(np.concatenate([memory.grid[:, :, :1], layers], axis=2), COARSE_RADIUS)
    kind = wide[:, :, 0]
    channels = np.stack(
        [
            kind == OBJECT_TO_IDX["unseen"],
            kind == OBJECT_TO_IDX["wall"],
            kind == OBJECT_TO_IDX["door"],
            np.isin(kind, _OBJECTS),
            wide[:, :, 2] > 0,
            wide[:, :, 3] > 0,
            wide[:, :, 1] > 0,
        ],
        axis=2,
    ).astype(np.uint8)
    span = COARSE * POOL
    coarse = channels[:span, :span].reshape(COARSE, POOL, COARSE, POOL, COARSE_CHANNELS).sum(axis=(1, 3))
    carried = memory.carried_code
    vector = np.concatenate(
        [
            encode_subgoal(subgoal),
            [float(carried[0] == OBJECT_TO_IDX[t]) for t in OBJECT_TYPES],
            [float(carried[0] in _OBJECTS and carried[1] == COLOR_TO_IDX[c]) for c in COLORS],
            _nearest(memory, target_match),
            _nearest(memory, next_match),
            routes(
                memory, [unexplored(memory), target_match, drop_spots(memory, next_match), keys_to_locked_doors(memory)]
            ).ravel(),
        ]
    ).astype(np.float32)
    return {"cells": cells, "flags": flags, "coarse": coarse.astype(np.uint8), "vector": vector}
