"""A loaded skill: a trained network, its card, and its recurrent state."""

from __future__ import annotations

import numpy as np
import torch

from foreman.envs import Subgoal
from foreman.skills.card import SkillCard
from foreman.skills.network import SkillNetwork, encode_subgoal


class Skill:
    """Executes one subgoal kind from the agent's observations.

    The loop it belongs to (the orchestrator's)::

        skill.reset()
        while detector.status == "continue" and steps < budget:
            action = skill.act(obs, subgoal)
            obs, *_ = env.step(action)
            detector.step(action)

    The success check is the detector's, never the policy's.
    """

    def __init__(self, card: SkillCard, network: SkillNetwork):
        self.card = card
        self.network = network.eval()
        self._memory = network.initial_memory(1)

    @property
    def name(self) -> str:
        return self.card.name

    def reset(self) -> None:
        """Forget the recurrent state: call when a subgoal starts."""
        self._memory = self.network.initial_memory(1)

    def _forward(self, obs: dict, subgoal: Subgoal):
        if subgoal.kind != self.card.subgoal:
            raise ValueError(f"skill {self.name!r} executes {self.card.subgoal!r}, not {subgoal.kind!r}")
        with torch.no_grad():
            return self.network(
                torch.as_tensor(np.asarray(obs["image"]))[None],
                torch.as_tensor([int(obs["direction"])]),
                torch.as_tensor(encode_subgoal(subgoal))[None],
                self._memory,
            )

    def act(self, obs: dict, subgoal: Subgoal, deterministic: bool = True) -> int:
        """The next action; advances the recurrent state."""
        logits, _, self._memory = self._forward(obs, subgoal)
        if deterministic:
            return int(logits.argmax(dim=1))
        return int(torch.distributions.Categorical(logits=logits).sample())

    def value(self, obs: dict, subgoal: Subgoal) -> float:
        """The critic's estimate of success from here (an affordance score); state unchanged."""
        _, value, _ = self._forward(obs, subgoal)
        return float(value)

    def action_distribution(self, obs: dict, subgoal: Subgoal) -> torch.Tensor:
        """Action probabilities for this observation; state unchanged."""
        logits, _, _ = self._forward(obs, subgoal)
        return torch.softmax(logits, dim=1)[0]
