"""MiniGrid's classic hard tasks, as registered by the installed minigrid: the suite foreman runs
from their own missions with the same planner and skills (no frames of training on them)."""

from __future__ import annotations

CLASSICS = (
    "MiniGrid-DoorKey-8x8-v0",
    "MiniGrid-DoorKey-16x16-v0",
    "MiniGrid-KeyCorridorS6R3-v0",
    "MiniGrid-UnlockPickup-v0",
    "MiniGrid-BlockedUnlockPickup-v0",
    "MiniGrid-MultiRoom-N6-v0",
    "MiniGrid-LockedRoom-v0",
    "MiniGrid-FourRooms-v0",
    "MiniGrid-ObstructedMaze-2Q-v1",
    "MiniGrid-ObstructedMaze-Full-v1",
)
