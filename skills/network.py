"""The policy network every built-in skill uses: what it sees, conditioned on its subgoal.

Inputs are what the agent observes (the 7x7x3 egocentric view, with the carried object in the
agent's cell, and the compass direction) and the subgoal's arguments. The view's cells are
embedded (type, colour, state), convolved, modulated by the subgoal (FiLM, as in BabyAI 1.1),
pooled, and fed with the direction into a GRU cell: the memory lets a skill remember what it saw.
An actor head gives logits over the six useful actions, a critic head a value estimate.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from foreman.envs import COLORS, LOCATIONS, OBJECT_TYPES, SUBGOAL_KINDS, ObjectDesc, Subgoal

N_ACTIONS = 6  # left, right, forward, pickup, drop, toggle (BabyAI's "done" is never used)
_N_TYPES, _N_COLORS, _N_STATES = 11, 6, 3  # minigrid's OBJECT_TO_IDX, COLOR_TO_IDX, door states


def _desc_features(desc: ObjectDesc | None) -> list[float]:
    present = [1.0 if desc is not None else 0.0]
    article = [1.0 if desc is not None and desc.article == "the" else 0.0]
    color = [float(desc is not None and desc.color == c) for c in COLORS]
    kind = [float(desc is not None and desc.type == t) for t in OBJECT_TYPES]
    location = [float(desc is not None and desc.location == loc) for loc in LOCATIONS]
    return present + article + color + kind + location


SUBGOAL_FEATURES = len(SUBGOAL_KINDS) + 2 * len(_desc_features(None))


def encode_subgoal(subgoal: Subgoal) -> np.ndarray:
    """A fixed-size vector: the subgoal kind one-hot, then its target and next-to descriptions."""
    kind = [float(subgoal.kind == k) for k in SUBGOAL_KINDS]
    target = getattr(subgoal, "target", None)
    next_to = getattr(subgoal, "next_to", None)
    return np.asarray(kind + _desc_features(target) + _desc_features(next_to), dtype=np.float32)


class FiLM(nn.Module):
    def __init__(self, channels: int, condition: int):
        super().__init__()
        self.scale = nn.Linear(condition, channels)
        self.shift = nn.Linear(condition, channels)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return x * (1 + self.scale(condition)[:, :, None, None]) + self.shift(condition)[:, :, None, None]


class SkillNetwork(nn.Module):
    """Recurrent actor-critic; ``hidden`` sizes every layer."""

    def __init__(self, hidden: int = 64):
        super().__init__()
        self.hidden = hidden
        self.cells = nn.Embedding(_N_TYPES + _N_COLORS + _N_STATES, hidden // 2)
        self.subgoal = nn.Sequential(nn.Linear(SUBGOAL_FEATURES, hidden), nn.ReLU())
        self.conv1 = nn.Conv2d(hidden // 2, hidden, 3, padding=1)
        self.film1 = FiLM(hidden, hidden)
        self.conv2 = nn.Conv2d(hidden, hidden, 3, padding=1)
        self.film2 = FiLM(hidden, hidden)
        self.direction = nn.Embedding(4, 8)
        self.memory = nn.GRUCell(hidden + 8 + hidden, hidden)
        self.actor = nn.Sequential(nn.Linear(hidden, hidden // 2), nn.Tanh(), nn.Linear(hidden // 2, N_ACTIONS))
        self.critic = nn.Sequential(nn.Linear(hidden, hidden // 2), nn.Tanh(), nn.Linear(hidden // 2, 1))

    def config(self) -> dict:
        return {"hidden": self.hidden}

    def initial_memory(self, batch: int) -> torch.Tensor:
        return torch.zeros(batch, self.hidden)

    def forward(
        self,
        image: torch.Tensor,  # (B, 7, 7, 3) integer cells
        direction: torch.Tensor,  # (B,) integer 0..3
        subgoal: torch.Tensor,  # (B, SUBGOAL_FEATURES)
        memory: torch.Tensor,  # (B, hidden)
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Action logits (B, 6), values (B,), next memory (B, hidden)."""
        image = image.long()
        offsets = torch.tensor([0, _N_TYPES, _N_TYPES + _N_COLORS], device=image.device)
        cells = self.cells(image + offsets).sum(dim=3).permute(0, 3, 1, 2)  # (B, C, 7, 7)
        condition = self.subgoal(subgoal)
        x = torch.relu(self.film1(self.conv1(cells), condition))
        x = torch.relu(self.film2(self.conv2(x), condition))
        pooled = x.amax(dim=(2, 3))
        features = torch.cat([pooled, self.direction(direction.long()), condition], dim=1)
        memory = self.memory(features, memory)
        return self.actor(memory), self.critic(memory).squeeze(1), memory
