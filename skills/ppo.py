"""PPO fine-tuning of a (cloned) skill policy on its level, CleanRL-style in one function.

Each env has its own :class:`AgentMemory`, the map the skill acts from, as in the agent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from foreman.envs import AgentMemory, make_env
from foreman.skills.network import SkillNetwork
from foreman.skills.observation import observe
from foreman.skills.skill import as_batch


@dataclass(frozen=True)
class PPOConfig:
    frames: int = 100_000
    envs: int = 16
    rollout: int = 64
    """steps per env between updates"""
    epochs: int = 4
    minibatch: int = 256
    lr: float = 2.5e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    entropy: float = 0.01
    value: float = 0.5
    seed: int = 5_000_000
    """env i starts at seed + i, then follows its own RNG"""


@dataclass(frozen=True)
class PPOStats:
    frames: int
    episodes: int
    success_rate: float  # over the episodes finished during training
    policy_loss: float
    value_loss: float
    entropy: float


def finetune(
    network: SkillNetwork, env_id: str, config: PPOConfig, writer: SummaryWriter | None = None, step0: int = 0
) -> PPOStats:
    envs = [make_env(env_id) for _ in range(config.envs)]
    memories = [AgentMemory() for _ in envs]
    for i, env in enumerate(envs):
        memories[i].observe(env.reset(seed=config.seed + i)[0])
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr, eps=1e-5)
    frames, finished, succeeded = 0, 0, 0
    recent: list[bool] = []  # successes of the episodes that ended in the last rollout
    last = (0.0, 0.0, 0.0)
    progress = tqdm(total=config.frames, desc="ppo", unit="frame")

    def observations() -> dict[str, torch.Tensor]:
        return as_batch([observe(m, env.unwrapped.subgoal) for m, env in zip(memories, envs, strict=True)])

    while frames < config.frames:
        batch: dict[str, list] = {k: [] for k in ("inputs", "action", "logprob", "value", "reward", "done")}
        for _ in range(config.rollout):
            inputs = observations()
            with torch.no_grad():
                logits, value = network(**inputs)
            dist = torch.distributions.Categorical(logits=logits)
            action = dist.sample()
            rewards, dones = [], []
            for i, env in enumerate(envs):
                obs, reward, terminated, truncated, _ = env.step(int(action[i]))
                memories[i].observe(obs, int(action[i]))
                done = terminated or truncated
                if done:
                    finished += 1
                    succeeded += reward > 0
                    recent.append(reward > 0)
                    memories[i].observe(env.reset()[0])
                rewards.append(reward)
                dones.append(done)
            for key, item in (
                ("inputs", inputs),
                ("action", action),
                ("logprob", dist.log_prob(action)),
                ("value", value),
                ("reward", torch.as_tensor(rewards, dtype=torch.float32)),
                ("done", torch.as_tensor(dones, dtype=torch.float32)),
            ):
                batch[key].append(item)
            frames += config.envs
            progress.update(config.envs)
        with torch.no_grad():
            _, next_value = network(**observations())
        rewards, values, dones = (torch.stack(batch[k]) for k in ("reward", "value", "done"))
        advantages = torch.zeros_like(rewards)
        gae = torch.zeros(config.envs)
        for t in reversed(range(config.rollout)):
            following = next_value if t == config.rollout - 1 else values[t + 1]
            delta = rewards[t] + config.gamma * following * (1 - dones[t]) - values[t]
            gae = delta + config.gamma * config.gae_lambda * (1 - dones[t]) * gae
            advantages[t] = gae
        returns = advantages + values
        inputs = {k: torch.cat([b[k] for b in batch["inputs"]]) for k in batch["inputs"][0]}
        actions, logprobs = torch.cat(batch["action"]), torch.cat(batch["logprob"])
        advantages, returns = advantages.flatten(), returns.flatten()
        for _ in range(config.epochs):
            for idx in torch.randperm(len(actions)).split(config.minibatch):
                logits, value = network(**{k: v[idx] for k, v in inputs.items()})
                dist = torch.distributions.Categorical(logits=logits)
                ratio = (dist.log_prob(actions[idx]) - logprobs[idx]).exp()
                advantage = advantages[idx]
                advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
                policy_loss = -torch.min(
                    ratio * advantage, ratio.clamp(1 - config.clip, 1 + config.clip) * advantage
                ).mean()
                value_loss = 0.5 * (value - returns[idx]).pow(2).mean()
                entropy = dist.entropy().mean()
                loss = policy_loss + config.value * value_loss - config.entropy * entropy
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(network.parameters(), 0.5)
                optimizer.step()
                last = (policy_loss.item(), value_loss.item(), entropy.item())
        if writer:
            writer.add_scalar("losses/policy", last[0], step0 + frames)
            writer.add_scalar("losses/value", last[1], step0 + frames)
            writer.add_scalar("losses/entropy", last[2], step0 + frames)
            writer.add_scalar("charts/rollout_success_rate", float(np.mean(recent)) if recent else 0.0, step0 + frames)
        recent.clear()
    progress.close()
    return PPOStats(frames, finished, succeeded / max(1, finished), *last)
