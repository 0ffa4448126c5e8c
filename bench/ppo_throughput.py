"""PPO training throughput: foreman's PPO (skills/ppo.py) beside Stable-Baselines3's, in one run.

Same level, same network (:class:`SkillNetwork`, starting from the shipped skill's weights), same
observation (:func:`observe` of the agent's memory map), same hyperparameters (:class:`PPOConfig`),
same number of in-process envs and torch threads. Each library trains for the same frames; the
figure is env frames per second of wall time, collection and updates together.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

from foreman.arguments import command_line
from foreman.bench.results import artifacts, write_result
from foreman.envs import AgentMemory, make_env
from foreman.paths import user_path
from foreman.skills import SkillLibrary
from foreman.skills.network import N_ACTIONS, SkillNetwork
from foreman.skills.observation import observe
from foreman.skills.ppo import PPOConfig, finetune
from foreman.skills.train import TRAINING_LEVELS


@dataclass(frozen=True)
class ThroughputConfig:
    skill: str = "go_to"
    """the shipped skill whose network and level both trainers use"""
    frames: int = 16_384
    """env frames each trainer runs (a multiple of envs x rollout)"""
    envs: int = 16
    rollout: int = 64
    workers: int = 2
    """foreman's sampling processes; torch threads of both learners"""
    out: Path | None = field(default_factory=lambda: user_path("bench"))
    """folder for the summary result file (none: do not write it)"""


class MemoryObservation(gym.Wrapper):
    """A level seen the way a skill sees it: :func:`observe` of an :class:`AgentMemory`.

    Spaces are float boxes so that SB3 neither rescales nor transposes them as images.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.memory = AgentMemory()
        self.memory.observe(env.reset(seed=0)[0])
        level: Any = env.unwrapped
        sample = observe(self.memory, level.subgoal)
        self.observation_space = gym.spaces.Dict(
            {k: gym.spaces.Box(-np.inf, np.inf, v.shape, np.float32) for k, v in sample.items()}
        )
        self.action_space = gym.spaces.Discrete(N_ACTIONS)
        self._level = level

    def _observe(self) -> dict[str, np.ndarray]:
        return {k: v.astype(np.float32) for k, v in observe(self.memory, self._level.subgoal).items()}

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.memory = AgentMemory()
        self.memory.observe(obs)
        return self._observe(), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(int(action))
        self.memory.observe(obs, int(action))
        return self._observe(), reward, terminated, truncated, info


class SkillPolicy(ActorCriticPolicy):
    """SB3's actor-critic interface around a :class:`SkillNetwork` (its own actor and critic heads)."""

    def __init__(self, *args, network: SkillNetwork, **kwargs):
        self._given = (network,)  # a tuple: a Module may not be assigned before Module.__init__
        super().__init__(*args, **kwargs)

    def _build(self, lr_schedule) -> None:
        self.network = self._given[0]
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)  # type: ignore[call-arg]

    def _heads(self, obs: dict[str, torch.Tensor]):
        logits, values = self.network(**obs)
        return self.action_dist.proba_distribution(action_logits=logits), values[:, None]

    def forward(self, obs, deterministic: bool = False):
        distribution, values = self._heads(obs)
        actions = distribution.get_actions(deterministic=deterministic)
        return actions, values, distribution.log_prob(actions)

    def evaluate_actions(self, obs, actions):
        distribution, values = self._heads(obs)
        return values, distribution.log_prob(actions), distribution.entropy()

    def get_distribution(self, obs):
        return self._heads(obs)[0]

    def predict_values(self, obs):
        return self._heads(obs)[1]


def _sb3_seconds(network: SkillNetwork, env_id: str, ppo: PPOConfig, frames: int, vec_env: type) -> float:
    started = time.perf_counter()
    factories: list[Callable[[], gym.Env]] = [lambda: MemoryObservation(make_env(env_id)) for _ in range(ppo.envs)]
    venv = vec_env(factories, start_method="fork") if vec_env is SubprocVecEnv else vec_env(factories)
    venv.seed(ppo.seed)
    model = PPO(
        SkillPolicy,
        venv,
        learning_rate=ppo.lr,
        n_steps=ppo.rollout,
        batch_size=min(ppo.minibatch, ppo.envs * ppo.rollout),
        n_epochs=ppo.epochs,
        gamma=ppo.gamma,
        gae_lambda=ppo.gae_lambda,
        clip_range=ppo.clip,
        ent_coef=ppo.entropy,
        vf_coef=ppo.value,
        max_grad_norm=0.5,
        policy_kwargs={"network": network, "optimizer_kwargs": {"eps": 1e-5}},
        device="cpu",
        seed=ppo.seed,
    )
    model.learn(total_timesteps=frames)
    venv.close()
    return time.perf_counter() - started


def run(config: ThroughputConfig, library: SkillLibrary | None = None) -> dict:
    """Train both for ``config.frames`` frames from the same weights; frames/s and their ratio."""
    start = (library or SkillLibrary()).load(config.skill).network
    env_id = TRAINING_LEVELS[config.skill]
    ppo = PPOConfig(frames=config.frames, envs=config.envs, rollout=config.rollout, workers=config.workers)
    if config.frames % (ppo.envs * ppo.rollout):
        raise ValueError(f"frames must be a multiple of envs x rollout = {ppo.envs * ppo.rollout}")
    torch.optim.Adam(start.parameters())  # the first optimizer of a process imports torch._dynamo (seconds)
    started = time.perf_counter()
    stats = finetune(copy.deepcopy(start).train(), env_id, ppo)
    seconds = {"foreman": time.perf_counter() - started}
    torch.set_num_threads(config.workers)
    for name, vec_env in (("sb3_dummy", DummyVecEnv), ("sb3_subproc", SubprocVecEnv)):
        seconds[name] = _sb3_seconds(copy.deepcopy(start).train(), env_id, ppo, config.frames, vec_env)
    result = {
        "config": {k: str(v) for k, v in asdict(config).items()},
        "env_id": env_id,
        "ppo": asdict(ppo),
    } | {name: {"frames": stats.frames, "seconds": s, "fps": stats.frames / s} for name, s in seconds.items()}
    result["ratio"] = result["foreman"]["fps"] / max(result["sb3_dummy"]["fps"], result["sb3_subproc"]["fps"])
    if config.out is not None:
        provenance = {"command": command_line("bench ppo", config, omit=("out",)), "seeds": None}
        hashes = artifacts(None, [(library or SkillLibrary()).load(config.skill).card])
        name = f"{config.skill}_{config.frames}_w{config.workers}"
        write_result(config.out, "ppo", name, result, artifacts=hashes, **provenance)
    return result


def table(result: dict) -> str:
    rows = [
        f"PPO throughput on {result['env_id']} ({result['foreman']['frames']} frames, "
        f"{result['ppo']['envs']} envs, {result['config']['workers']} cores)",
        "| trainer | frames | seconds | frames/s |",
        "|---|---|---|---|",
    ]
    for name, label in (
        ("foreman", "foreman (skills/ppo.py)"),
        ("sb3_dummy", "Stable-Baselines3 PPO, DummyVecEnv"),
        ("sb3_subproc", "Stable-Baselines3 PPO, SubprocVecEnv"),
    ):
        r = result[name]
        rows.append(f"| {label} | {r['frames']} | {r['seconds']:.1f} | {r['fps']:.0f} |")
    rows.append(f"ratio foreman / faster SB3: {result['ratio']:.2f}x")
    return "\n".join(rows)
