"""Fit a skill's critic to what its own policy achieves, so that its value is an affordance score.

Cloning from demonstrations trains the actor only. Here the skill plays its level as the agent
runs it; every state of an episode is labelled with that episode's outcome (did the level's
success detector reward the subgoal), and the critic head alone is regressed onto the labels
from the frozen trunk: the value becomes the skill's estimated chance of completing its subgoal
from that state (what SayCan multiplies with the language model's score). The trunk and the
actor do not change, so the policy acts exactly as before and the card's evaluation still holds.
Calibration is measured on held-out episodes, at their first step: the Brier score of the value,
beside that of always answering the training success rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from foreman.envs import make_env
from foreman.skills.card import CriticFit
from foreman.skills.rollout import in_workers, play
from foreman.skills.skill import TrainedSkill, as_batch


@dataclass(frozen=True)
class CriticConfig:
    episodes: int = 400
    """episodes whose states train the critic"""
    held_out: int = 100
    """further episodes that measure its calibration"""
    seed: int = 30_000_000
    """away from demonstrations (0+), card evaluations (10,000,000+) and the bench (20,000,000+)"""
    states_per_episode: int = 32
    """states kept per episode, evenly spaced (long failures would otherwise dominate)"""
    epochs: int = 30
    batch: int = 512
    lr: float = 3e-3
    workers: int = 2


def _played(skill: TrainedSkill, env_id: str, keep: int, seeds: range) -> list[tuple[bool, torch.Tensor]]:
    """(success, trunk features of up to ``keep`` states, the first included) per episode."""
    env = make_env(env_id)
    episodes = []
    for seed in seeds:
        episode = play(skill, env, seed, record=True)
        index = np.unique(np.linspace(0, len(episode.observations) - 1, keep).round().astype(int))
        with torch.no_grad():
            features = skill.network.features(**as_batch([episode.observations[i] for i in index]))
        episodes.append((episode.success, features))
    return episodes


def _collect(skill: TrainedSkill, env_id: str, seeds: range, config: CriticConfig) -> list[tuple[bool, torch.Tensor]]:
    parts = in_workers(_played, (skill, env_id, config.states_per_episode), seeds, config.workers)
    return [episode for part in parts for episode in part]


def fit_critic(skill: TrainedSkill, env_id: str, config: CriticConfig = CriticConfig()) -> CriticFit:
    """Regress ``skill.network.critic`` onto its episodes' outcomes (in place); returns the fit."""
    torch.manual_seed(config.seed)
    train = _collect(skill, env_id, range(config.seed, config.seed + config.episodes), config)
    held_seeds = range(config.seed + config.episodes, config.seed + config.episodes + config.held_out)
    held = _collect(skill, env_id, held_seeds, config)
    features = torch.cat([f for _, f in train])
    targets = torch.cat([torch.full((len(f),), float(s)) for s, f in train])
    critic = skill.network.critic
    optimizer = torch.optim.Adam(critic.parameters(), lr=config.lr)
    for _ in range(config.epochs):
        for index in torch.randperm(len(targets)).split(config.batch):
            loss = (critic(features[index]).squeeze(1) - targets[index]).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        first = critic(torch.stack([f[0] for _, f in held])).squeeze(1).clamp(0, 1)
    outcomes = torch.tensor([float(s) for s, _ in held])
    base_rate = float(np.mean([s for s, _ in train]))
    return CriticFit(
        episodes=config.episodes,
        seeds=(config.seed, held_seeds.stop - 1),
        states=len(targets),
        success_rate=base_rate,
        held_out_episodes=config.held_out,
        brier=float((first - outcomes).pow(2).mean()),
        brier_of_base_rate=float((base_rate - outcomes).pow(2).mean()),
        mean_value_successes=float(first[outcomes == 1].mean()) if outcomes.any() else None,
        mean_value_failures=float(first[outcomes == 0].mean()) if not outcomes.all() else None,
    )
