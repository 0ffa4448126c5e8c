"""PPO fine-tuning of a (cloned) skill policy on its level, CleanRL-style in one function.

The recurrent state is treated as an input recorded during the rollout (no backpropagation
through time): cloning already trained the memory, PPO adjusts actor and critic around it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from foreman.envs import make_env
from foreman.skills.network import SkillNetwork, encode_subgoal


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
    obs = [env.reset(seed=config.seed + i)[0] for i, env in enumerate(envs)]
    subgoals = [encode_subgoal(env.unwrapped.subgoal) for env in envs]
    memory = network.initial_memory(config.envs)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr, eps=1e-5)
    frames, finished, succeeded = 0, 0, 0
    recent: list[bool] = []  # successes of the episodes that ended in the last rollout
    last = (0.0, 0.0, 0.0)
    progress = tqdm(total=config.frames, desc="ppo", unit="frame")
    while frames < config.frames:
        batch = {
            k: [] for k in ("image", "direction", "subgoal", "memory", "action", "logprob", "value", "reward", "done")
        }
        for _ in range(config.rollout):
            image = torch.as_tensor(np.stack([o["image"] for o in obs]))
            direction = torch.as_tensor([int(o["direction"]) for o in obs])
            subgoal = torch.as_tensor(np.stack(subgoals))
            with torch.no_grad():
                logits, value, next_memory = network(image, direction, subgoal, memory)
            dist = torch.distributions.Categorical(logits=logits)
            action = dist.sample()
            rewards, dones = [], []
            for i, env in enumerate(envs):
                obs[i], reward, terminated, truncated, _ = env.step(int(action[i]))
                done = terminated or truncated
                if done:
                    finished += 1
                    succeeded += reward > 0
                    recent.append(reward > 0)
                    obs[i], _ = env.reset()
                    subgoals[i] = encode_subgoal(env.unwrapped.subgoal)
                    next_memory[i] = 0
                rewards.append(reward)
                dones.append(done)
            for key, item in (
                ("image", image),
                ("direction", direction),
                ("subgoal", subgoal),
                ("memory", memory),
                ("action", action),
                ("logprob", dist.log_prob(action)),
                ("value", value),
                ("reward", torch.as_tensor(rewards, dtype=torch.float32)),
                ("done", torch.as_tensor(dones, dtype=torch.float32)),
            ):
                batch[key].append(item)
            memory = next_memory
            frames += config.envs
            progress.update(config.envs)
        with torch.no_grad():
            image = torch.as_tensor(np.stack([o["image"] for o in obs]))
            direction = torch.as_tensor([int(o["direction"]) for o in obs])
            _, next_value, _ = network(image, direction, torch.as_tensor(np.stack(subgoals)), memory)
        rewards, values, dones = (torch.stack(batch[k]) for k in ("reward", "value", "done"))
        advantages = torch.zeros_like(rewards)
        gae = torch.zeros(config.envs)
        for t in reversed(range(config.rollout)):
            following = next_value if t == config.rollout - 1 else values[t + 1]
            delta = rewards[t] + config.gamma * following * (1 - dones[t]) - values[t]
            gae = delta + config.gamma * config.gae_lambda * (1 - dones[t]) * gae
            advantages[t] = gae
        returns = advantages + values
        flat = {k: torch.cat(v) if batch[k][0].dim() > 1 else torch.stack(v).flatten() for k, v in batch.items()}
        flat["advantage"], flat["return"] = advantages.flatten(), returns.flatten()
        size = len(flat["action"])
        for _ in range(config.epochs):
            for idx in torch.randperm(size).split(config.minibatch):
                logits, value, _ = network(
                    flat["image"][idx], flat["direction"][idx], flat["subgoal"][idx], flat["memory"][idx]
                )
                dist = torch.distributions.Categorical(logits=logits)
                ratio = (dist.log_prob(flat["action"][idx]) - flat["logprob"][idx]).exp()
                advantage = flat["advantage"][idx]
                advantage = (advantage - advantage.mean()) / (advantage.std() + 1e-8)
                policy_loss = -torch.min(
                    ratio * advantage, ratio.clamp(1 - config.clip, 1 + config.clip) * advantage
                ).mean()
                value_loss = 0.5 * (value - flat["return"][idx]).pow(2).mean()
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
