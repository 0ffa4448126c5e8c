"""A loaded skill: a trained network and its card."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from minigrid.core.constants import OBJECT_TO_IDX

from foreman.envs import OBJECT_TYPES, AgentMemory, Subgoal
from foreman.skills.card import SkillCard
from foreman.skills.network import SkillNetwork
from foreman.skills.observation import FINE_RADIUS, SUBGOAL_FEATURES, observe

_FORWARD, _DROP = 2, 4  # minigrid.core.actions.Actions.forward, .drop
_DOOR, _EMPTY = OBJECT_TO_IDX["door"], OBJECT_TO_IDX["empty"]
_BLOCKING = {OBJECT_TO_IDX[t] for t in ("wall", "key", "ball", "box")}


def forward_blocked(observation: dict[str, np.ndarray]) -> bool:
    """Whether the cell ahead, as the agent sees it now, stops a ``forward`` (a wall, an object,
    a shut door): then the action would change nothing."""
    kind, _, state = (int(v) for v in observation["cells"][FINE_RADIUS - 1, FINE_RADIUS])
    return kind in _BLOCKING or (kind == _DOOR and state != 0)


def drop_blocked(observation: dict[str, np.ndarray]) -> bool:
    """Whether a ``drop`` would change nothing: nothing is carried, or the cell ahead, as the agent
    sees it, is not free floor (MiniGrid drops only there)."""
    ahead = int(observation["cells"][FINE_RADIUS - 1, FINE_RADIUS][0])
    held = observation["vector"][SUBGOAL_FEATURES : SUBGOAL_FEATURES + len(OBJECT_TYPES)].any()
    return ahead != _EMPTY or not held


def as_batch(observations: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Stack :func:`observe` outputs into the network's keyword arguments."""
    return {key: torch.as_tensor(np.stack([o[key] for o in observations])) for key in observations[0]}


class Skill(Protocol):
    """What the orchestrator runs a subgoal with: anything that maps the agent's memory and a
    subgoal to an action. :class:`TrainedSkill` is the network loaded from a library; tests and
    ablations plug in others (the BabyAI bot, a skill that fails on purpose)."""

    @property
    def name(self) -> str: ...

    @property
    def identity(self) -> str:
        """What acted, for traces."""
        ...

    def reset(self) -> None:
        """Called when a subgoal starts."""
        ...

    def act(self, memory: AgentMemory, subgoal: Subgoal) -> int: ...

    def value(self, memory: AgentMemory, subgoal: Subgoal) -> float:
        """An estimate of the chance to complete ``subgoal`` from here (may raise where there is none)."""
        ...


class TrainedSkill:
    """Executes one subgoal kind from the agent's memory of what it has seen.

    The loop it belongs to (the orchestrator's)::

        skill.reset()
        while detector.status == "continue" and steps < budget:
            action = skill.act(memory, subgoal)
            obs, *_ = env.step(action)
            memory.observe(obs, action)
            detector.step(action)

    The success check is the detector's, never the policy's.
    """

    def __init__(self, card: SkillCard, network: SkillNetwork):
        self.card = card
        self.network = network.eval()
        self.reset()

    @property
    def name(self) -> str:
        return self.card.name

    @property
    def identity(self) -> str:
        """What acted, for traces: the sha256 of the weights."""
        return self.card.weights_sha256

    def reset(self) -> None:
        """Call when a subgoal starts: forgets the states seen and reseeds the loop breaker.

        The network keeps no state of its own (the agent's memory map is its memory), so in a
        state it has already been in during this subgoal its greedy action would repeat the same
        cycle forever (turning back and forth, walking into a wall). There :meth:`act` samples
        from the policy instead of taking its most likely action.
        """
        self._seen: set[bytes] = set()
        self._rng = torch.Generator().manual_seed(0)

    def _forward(self, memory: AgentMemory, subgoal: Subgoal) -> tuple[torch.Tensor, torch.Tensor]:
        if subgoal.kind != self.card.subgoal:
            raise ValueError(f"skill {self.name!r} executes {self.card.subgoal!r}, not {subgoal.kind!r}")
        with torch.no_grad():
            return self.network(**as_batch([observe(memory, subgoal)]))

    def act(self, memory: AgentMemory, subgoal: Subgoal, deterministic: bool = True) -> int:
        """The next action, from the memory as it is after the latest observation: the most
        likely one (``deterministic``), except in a state already seen in this subgoal."""
        if subgoal.kind != self.card.subgoal:
            raise ValueError(f"skill {self.name!r} executes {self.card.subgoal!r}, not {subgoal.kind!r}")
        return self.act_on(observe(memory, subgoal), deterministic)

    def act_on(self, observation: dict[str, np.ndarray], deterministic: bool = True) -> int:
        """The next action for an :func:`observe` output already computed (trainers reuse it).

        ``forward`` into a blocked cell is never chosen: it changes nothing, so from the same
        memory the policy would choose it again (BossLevel: an ``open`` subgoal pressed forward
        into a box 135 times in its 150 steps). Nor is a ``drop`` that cannot happen (DoorKey
        16x16: a ``reach`` subgoal pressed drop, the key in hand and a wall ahead, for 150 steps)."""
        with torch.no_grad():
            logits, _ = self.network(**as_batch([observation]))
        if forward_blocked(observation):
            logits[0, _FORWARD] = -torch.inf
        if drop_blocked(observation):
            logits[0, _DROP] = -torch.inf
        key = b"".join(v.tobytes() for v in observation.values())
        repeated = key in self._seen
        self._seen.add(key)
        if deterministic and not repeated:
            return int(logits.argmax(dim=1))
        return int(torch.multinomial(torch.softmax(logits, dim=1)[0], 1, generator=self._rng))

    def value(self, memory: AgentMemory, subgoal: Subgoal) -> float:
        """The critic's estimate of this skill's chance to complete ``subgoal`` from here, an
        affordance score, once fitted (``card.training.critic``; ``foreman skills fit-critic``)."""
        _, value = self._forward(memory, subgoal)
        return float(value)

    def action_distribution(self, memory: AgentMemory, subgoal: Subgoal) -> torch.Tensor:
        """Action probabilities for this memory and subgoal."""
        logits, _ = self._forward(memory, subgoal)
        return torch.softmax(logits, dim=1)[0]
