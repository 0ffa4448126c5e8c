"""A skill playing episodes of its level, as the agent runs it; shared by evaluation and the critic fit."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import torch

from foreman.envs import AgentMemory
from foreman.skills.observation import observe
from foreman.skills.skill import TrainedSkill

T = TypeVar("T")


@dataclass
class Episode:
    success: bool
    steps: int
    observations: list[dict[str, np.ndarray]] = field(default_factory=list)
    """what the skill saw at each step (kept only when asked)"""


def play(skill: TrainedSkill, env, seed: int, record: bool = False) -> Episode:
    """One episode from ``seed`` with the agent's action selection; the level's reward is the
    subgoal's success detector, and the level truncates at its ``max_steps``."""
    obs, _ = env.reset(seed=seed)
    subgoal = env.unwrapped.subgoal
    memory = AgentMemory()
    memory.observe(obs)
    skill.reset()
    episode = Episode(success=False, steps=0)
    done = False
    while not done:
        observation = observe(memory, subgoal)
        if record:
            episode.observations.append(observation)
        action = skill.act_on(observation)
        obs, reward, terminated, truncated, _ = env.step(action)
        memory.observe(obs, action)
        done, episode.steps = terminated or truncated, episode.steps + 1
    episode.success = reward > 0
    return episode


def split_seeds(seeds: range, parts: int) -> list[range]:
    bounds = np.linspace(seeds.start, seeds.stop, parts + 1).astype(int)
    return [range(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def in_workers(task: Callable[..., T], args: tuple, seeds: range, workers: int) -> list[T]:
    """``task(*args, part)`` for each share of ``seeds``, in ``workers`` forked processes (one
    torch thread each) or in this one."""
    if workers <= 1:
        return [task(*args, seeds)]
    with mp.get_context("fork").Pool(workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        return pool.starmap(task, [(*args, part) for part in split_seeds(seeds, workers)])
