"""The policy network every built-in skill uses: its memory map, conditioned on its subgoal.

Inputs are :func:`foreman.skills.observation.observe`'s arrays. The fine map's cells are
embedded (type, colour, state) beside their flags, convolved and modulated by the subgoal (FiLM,
as in BabyAI 1.1); the coarse map is convolved on its own; both are flattened (position matters:
the agent sits at the centre, facing up) and joined with the vector of subgoal, carried object and
offsets to remembered targets. An actor head gives logits over the six useful actions, a critic
head a value estimate. There is no recurrent state: the memory map is the skill's memory.
"""

from __future__ import annotations

import torch
from torch import nn

from foreman.skills.observation import COARSE_CHANNELS, ROUTES, SUBGOAL_FEATURES, VECTOR

N_ACTIONS = 6  # left, right, forward, pickup, drop, toggle (BabyAI's "done" is never used)
_N_TYPES, _N_COLORS, _N_STATES = 11, 6, 3  # minigrid's OBJECT_TO_IDX, COLOR_TO_IDX, door states
_FLAGS = 3


def native_bf16(requested: bool | None = None) -> bool:
    """Whether to run forward and backward in bfloat16 autocast: ``requested``, or where it is not
    given, whether this CPU computes bfloat16 natively (there it trains about 1.4x faster)."""
    return torch.ops.mkldnn._is_mkldnn_bf16_supported() if requested is None else requested


class FiLM(nn.Module):
    def __init__(self, channels: int, condition: int):
        super().__init__()
        self.scale = nn.Linear(condition, channels)
        self.shift = nn.Linear(condition, channels)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return x * (1 + self.scale(condition)[:, :, None, None]) + self.shift(condition)[:, :, None, None]


class SkillNetwork(nn.Module):
    """Feed-forward actor-critic; ``hidden`` sizes every layer; ``routes``: whether it reads the
    observation's route features (False for networks trained before they existed)."""

    def __init__(self, hidden: int = 64, routes: bool = True):
        super().__init__()
        self.hidden = hidden
        self.routes = routes
        self._vector = VECTOR if routes else VECTOR - ROUTES
        width = hidden // 2
        self.cells = nn.Embedding(_N_TYPES + _N_COLORS + _N_STATES, width)
        self.flags = nn.Linear(_FLAGS, width)
        self.subgoal = nn.Sequential(nn.Linear(SUBGOAL_FEATURES, hidden), nn.ReLU())
        self.conv1 = nn.Conv2d(width, width, 3, padding=1)
        self.film1 = FiLM(width, hidden)
        self.conv2 = nn.Conv2d(width, hidden, 3, padding=1)
        self.film2 = FiLM(hidden, hidden)
        self.coarse = nn.Sequential(
            nn.Conv2d(COARSE_CHANNELS, width // 2, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width // 2, width, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        fine_out, coarse_out = hidden * 3 * 3, width * 3 * 3
        self.trunk = nn.Sequential(nn.Linear(fine_out + coarse_out + self._vector, 2 * hidden), nn.ReLU())
        self.actor = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.Tanh(), nn.Linear(hidden, N_ACTIONS))
        self.critic = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def config(self) -> dict:
        return {"hidden": self.hidden, "routes": self.routes}

    def forward(
        self,
        cells: torch.Tensor,  # (B, 15, 15, 3) integer codes
        flags: torch.Tensor,  # (B, 15, 15, 3) 0/1
        coarse: torch.Tensor,  # (B, 15, 15, 7) counts 0..9
        vector: torch.Tensor,  # (B, VECTOR)
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Action logits (B, 6) and values (B,)."""
        hidden = self.features(cells, flags, coarse, vector)
        return self.actor(hidden), self.critic(hidden).squeeze(1)

    def features(
        self, cells: torch.Tensor, flags: torch.Tensor, coarse: torch.Tensor, vector: torch.Tensor
    ) -> torch.Tensor:
        """The trunk's output (B, 2 * hidden), which both heads read."""
        # the sum of the type, colour and state embeddings, as a multi-hot product: the same function
        # as summing three lookups, but its gradient is a matrix product (an embedding's backward
        # is a slow scatter on CPU)
        offsets = torch.tensor([0, _N_TYPES, _N_TYPES + _N_COLORS], device=cells.device)
        codes = nn.functional.one_hot(cells.long() + offsets, self.cells.num_embeddings).sum(dim=3)
        x = codes.to(self.cells.weight.dtype) @ self.cells.weight + self.flags(flags.float())
        x = x.permute(0, 3, 1, 2)  # (B, C, 15, 15)
        condition = self.subgoal(vector[:, :SUBGOAL_FEATURES])
        x = torch.relu(self.film1(self.conv1(x), condition))
        x = nn.functional.max_pool2d(x, 2)  # 7x7
        x = torch.relu(self.film2(self.conv2(x), condition))
        x = nn.functional.max_pool2d(x, 2)  # 3x3
        wide = self.coarse(coarse.float().permute(0, 3, 1, 2) / 9)
        return self.trunk(torch.cat([x.flatten(1), wide.flatten(1), vector[:, : self._vector]], dim=1))
