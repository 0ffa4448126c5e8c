"""PPO fine-tuning of a (cloned) skill policy on its level, CleanRL-style.

Each env has its own :class:`AgentMemory`, the map the skill acts from, as in the agent. Rollouts
come from :class:`Sampler`\\ s: with ``workers`` > 1 each worker process owns a share of the envs,
steps them and runs the policy on them with a copy of the current weights, so that collection
uses every core; the learner then updates on all of it with ``workers`` torch threads, in
bfloat16 autocast where the CPU computes it natively (the update takes most of the time).
"""

from __future__ import annotations

import multiprocessing as mp
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from foreman.envs import AgentMemory, make_env
from foreman.skills.network import SkillNetwork, native_bf16
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
    workers: int = 1
    """processes stepping the envs (each takes envs / workers of them)"""
    bf16: bool | None = None
    """the update's forward and backward in bfloat16 autocast (weights, optimizer and losses stay
    float32); None: where the CPU computes bfloat16 natively"""

    @property
    def autocast(self) -> bool:
        return native_bf16(self.bf16)


@dataclass(frozen=True)
class PPOStats:
    frames: int
    episodes: int
    success_rate: float  # over the episodes finished during training
    policy_loss: float
    value_loss: float
    entropy: float


Rollout = dict[str, np.ndarray]
"""time-major arrays (rollout, envs, ...): observe()'s keys, action, logprob, value, reward, done;
plus ``next_value`` (envs,) and ``outcomes`` (successes of the episodes that ended)"""


class Sampler:
    """Some envs with their memories, stepped by a policy for a rollout at a time."""

    def __init__(self, env_id: str, seeds: range):
        self.envs = [make_env(env_id) for _ in seeds]
        self.memories = [AgentMemory() for _ in seeds]
        for env, memory, seed in zip(self.envs, self.memories, seeds, strict=True):
            memory.observe(env.reset(seed=seed)[0])

    def _inputs(self) -> dict[str, torch.Tensor]:
        return as_batch([observe(m, env.unwrapped.subgoal) for m, env in zip(self.memories, self.envs, strict=True)])

    @torch.no_grad()
    def collect(self, network: SkillNetwork, steps: int) -> Rollout:
        columns: dict[str, list] = {}
        outcomes: list[bool] = []
        for _ in range(steps):
            inputs = self._inputs()
            logits, value = network(**inputs)
            dist = torch.distributions.Categorical(logits=logits)
            action = dist.sample()
            rewards, dones = [], []
            for env, memory, act in zip(self.envs, self.memories, action.tolist(), strict=True):
                obs, reward, terminated, truncated, _ = env.step(act)
                memory.observe(obs, act)
                done = terminated or truncated
                if done:
                    outcomes.append(reward > 0)
                    memory.observe(env.reset()[0])  # no action: a new episode's memory
                rewards.append(reward)
                dones.append(done)
            step = {k: v.numpy() for k, v in inputs.items()} | {
                "action": action.numpy(),
                "logprob": dist.log_prob(action).numpy(),
                "value": value.numpy(),
                "reward": np.asarray(rewards, np.float32),
                "done": np.asarray(dones, np.float32),
            }
            for key, item in step.items():
                columns.setdefault(key, []).append(item)
        rollout = {k: np.stack(v) for k, v in columns.items()}
        rollout["next_value"] = network(**self._inputs())[1].numpy()
        rollout["outcomes"] = np.asarray(outcomes, bool)
        return rollout


def _serve(conn, env_id: str, seeds: range, shape: dict) -> None:
    """A worker process: one :class:`Sampler`; receives weights, answers with a rollout."""
    torch.set_num_threads(1)
    sampler, network = Sampler(env_id, seeds), SkillNetwork(**shape)
    while (request := conn.recv()) is not None:
        state, steps = request
        network.load_state_dict(state)
        conn.send(sampler.collect(network, steps))
    conn.close()


class ParallelSampler:
    """:class:`Sampler`\\ s in ``workers`` processes; their rollouts are joined along the env axis."""

    def __init__(self, env_id: str, seeds: range, workers: int, shape: dict):
        """``shape``: the learner's :meth:`SkillNetwork.config`, which each worker's copy takes."""
        bounds = np.linspace(seeds.start, seeds.stop, workers + 1).astype(int)
        context = mp.get_context("fork")
        self.conns, self.processes = [], []
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child, env_id, range(start, stop), shape), daemon=True)
            process.start()
            self.conns.append(parent)
            self.processes.append(process)

    def collect(self, network: SkillNetwork, steps: int) -> Rollout:
        state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        for conn in self.conns:
            conn.send((state, steps))
        parts = [conn.recv() for conn in self.conns]
        joined = {
            k: np.concatenate([p[k] for p in parts], axis=1) for k in parts[0] if k not in ("next_value", "outcomes")
        }
        joined["next_value"] = np.concatenate([p["next_value"] for p in parts])
        joined["outcomes"] = np.concatenate([p["outcomes"] for p in parts])
        return joined

    def close(self) -> None:
        for conn, process in zip(self.conns, self.processes, strict=True):
            conn.send(None)
            process.join(timeout=10)


def advantages(rollout: Rollout, gamma: float, gae_lambda: float) -> tuple[np.ndarray, np.ndarray]:
    """GAE advantages and returns, (rollout, envs) each."""
    rewards, values, dones = rollout["reward"], rollout["value"], rollout["done"]
    result = np.zeros_like(rewards)
    gae = np.zeros(rewards.shape[1], np.float32)
    for t in reversed(range(len(rewards))):
        following = rollout["next_value"] if t == len(rewards) - 1 else values[t + 1]
        delta = rewards[t] + gamma * following * (1 - dones[t]) - values[t]
        gae = delta + gamma * gae_lambda * (1 - dones[t]) * gae
        result[t] = gae
    return result, result + values


def finetune(
    network: SkillNetwork, env_id: str, config: PPOConfig, writer: SummaryWriter | None = None, step0: int = 0
) -> PPOStats:
    if config.envs % config.workers:
        raise ValueError(f"envs ({config.envs}) must split evenly over workers ({config.workers})")
    seeds = range(config.seed, config.seed + config.envs)
    if config.workers > 1:
        sampler: Sampler | ParallelSampler = ParallelSampler(env_id, seeds, config.workers, network.config())
    else:
        sampler = Sampler(env_id, seeds)
    torch.set_num_threads(config.workers)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr, eps=1e-5)
    frames, finished, succeeded = 0, 0, 0
    last = (0.0, 0.0, 0.0)
    progress = tqdm(total=config.frames, desc="ppo", unit="frame")
    try:
        while frames < config.frames:
            rollout = sampler.collect(network, config.rollout)
            frames += config.rollout * config.envs
            progress.update(config.rollout * config.envs)
            finished += len(rollout["outcomes"])
            succeeded += int(rollout["outcomes"].sum())
            advantage, returns = (
                torch.as_tensor(a).flatten() for a in advantages(rollout, config.gamma, config.gae_lambda)
            )
            inputs = {k: torch.as_tensor(rollout[k]).flatten(0, 1) for k in ("cells", "flags", "coarse", "vector")}
            actions = torch.as_tensor(rollout["action"]).flatten()
            logprobs = torch.as_tensor(rollout["logprob"]).flatten()
            for _ in range(config.epochs):
                for idx in torch.randperm(len(actions)).split(config.minibatch):
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.autocast):
                        logits, value = network(**{k: v[idx] for k, v in inputs.items()})
                    logits, value = logits.float(), value.float()
                    dist = torch.distributions.Categorical(logits=logits)
                    ratio = (dist.log_prob(actions[idx]) - logprobs[idx]).exp()
                    normalized = (advantage[idx] - advantage[idx].mean()) / (advantage[idx].std() + 1e-8)
                    policy_loss = -torch.min(
                        ratio * normalized, ratio.clamp(1 - config.clip, 1 + config.clip) * normalized
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
                recent = rollout["outcomes"]
                writer.add_scalar("losses/policy", last[0], step0 + frames)
                writer.add_scalar("losses/value", last[1], step0 + frames)
                writer.add_scalar("losses/entropy", last[2], step0 + frames)
                writer.add_scalar(
                    "charts/rollout_success_rate", float(recent.mean()) if len(recent) else 0.0, step0 + frames
                )
    finally:
        progress.close()
        if isinstance(sampler, ParallelSampler):
            sampler.close()
    return PPOStats(frames, finished, succeeded / max(1, finished), *last)
