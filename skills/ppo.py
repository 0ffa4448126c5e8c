"""PPO fine-tuning of a (cloned) skill policy on its level, CleanRL-style.

Each env has its own :class:`AgentMemory`, the map the skill acts from, as in the agent. Rollouts
come from :class:`Sampler`\\ s: with ``workers`` > 1 each worker process (or Ray actor, with
``ray_address``) owns a share of the envs, steps them and runs the policy on them with a copy of
the current weights, so that collection uses every core; the learner then updates on all of it
with ``workers`` torch threads, in bfloat16 autocast where the CPU computes it natively (the
update takes most of the time).
"""

from __future__ import annotations

import copy
import multiprocessing as mp
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from foreman.cluster import join_ray
from foreman.envs import AgentMemory, make_env
from foreman.skills.network import SkillNetwork, native_bf16
from foreman.skills.observation import ROUTES, carrying_target, observe
from foreman.skills.routes import ROUTE_FEATURES
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
    shaping: float = 0.0
    """weight of potential-based shaping (Ng et al. 1999): each step is also rewarded
    ``shaping * (gamma * phi(next) - phi(now))``, phi the minus the known route length to the
    subgoal's target (:func:`route_potential`); such terms leave the optimal policy as it was"""
    kl_to_start: float = 0.0
    """weight of KL(start || policy), the policy's divergence from its weights when PPO began
    (a cloned skill's: keeps what cloning learnt while rewards are rare), annealed linearly to 0
    over the run"""
    value_warmup: int = 0
    """frames at the start during which only the value head learns (its own layers: the trunk
    is shared with the policy, which stays as it was): a cloned skill's value head predicts its
    success, not PPO's discounted return, and advantages from it would first push the policy by
    the value head's error"""
    seed: int = 5_000_000
    """env i starts at seed + i, then follows its own RNG"""
    workers: int = 1
    """processes stepping the envs (each takes envs / workers of them)"""
    ray_address: str | None = None
    """step the envs in ``workers`` Ray actors on this cluster (auto, HOST:PORT, or local: a Ray
    instance started for the run) instead of local processes; the learner stays in this process"""
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
    seconds: float = 0.0
    """wall time from the samplers being up (their start-up excluded) to the end"""


Rollout = dict[str, np.ndarray]
"""time-major arrays (rollout, envs, ...): observe()'s keys, action, logprob, value, reward, done,
terminated (done and not cut at the step limit); plus ``next_value`` and ``next_potential``
(envs,), ``outcomes`` and ``episode_returns`` (successes and rewards of the episodes that ended)"""
_PER_ENV = ("next_value", "next_potential", "outcomes", "episode_returns")  # a rollout's arrays without a time axis


_TARGET_ROUTE = -ROUTES + ROUTE_FEATURES  # where the target's route starts in the vector: after the frontier's
_FAR = 2.0  # the potential of a target no known route reaches, in route lengths / 20


def route_potential(vector: np.ndarray) -> np.ndarray:
    """phi of observations (their ``vector``\\ s, any leading axes): minus the known route length
    to the subgoal's target, in units of 20 cells, capped at ``_FAR``, which is also phi while
    no known route reaches it (a target first seen raises phi unless it is farther than that);
    0 while the target is carried (reached: lifting it is not to cost what the route was worth)."""
    reachable = vector[..., _TARGET_ROUTE] > 0
    length = vector[..., _TARGET_ROUTE + 1]
    phi = np.where(reachable, -np.minimum(length, _FAR), -_FAR)
    return np.where(carrying_target(vector), 0.0, phi).astype(np.float32)


def shape(rollout: Rollout, weight: float, gamma: float) -> np.ndarray:
    """The rollout's rewards plus potential-based shaping. A terminal state has phi 0; an
    episode cut at its step limit did not reach one, and its last state stands in for the
    next (else a time-out far from the target would pay back all the shaping at once)."""
    phi = route_potential(rollout["vector"])
    following = np.concatenate([phi[1:], rollout["next_potential"][None]])
    following = np.where(rollout["done"] > 0, np.where(rollout["terminated"] > 0, 0.0, phi), following)
    return rollout["reward"] + weight * (gamma * following - phi)


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
        ended: list[float] = []
        for _ in range(steps):
            inputs = self._inputs()
            logits, value = network(**inputs)
            dist = torch.distributions.Categorical(logits=logits)
            action = dist.sample()
            rewards, dones, ends = [], [], []
            for env, memory, act in zip(self.envs, self.memories, action.tolist(), strict=True):
                obs, reward, terminated, truncated, _ = env.step(act)
                memory.observe(obs, act)
                done = terminated or truncated
                if done:
                    outcomes.append(reward > 0)
                    ended.append(float(reward))
                    memory.observe(env.reset()[0])  # no action: a new episode's memory
                rewards.append(reward)
                dones.append(done)
                ends.append(terminated)
            step = {k: v.numpy() for k, v in inputs.items()} | {
                "action": action.numpy(),
                "logprob": dist.log_prob(action).numpy(),
                "value": value.numpy(),
                "reward": np.asarray(rewards, np.float32),
                "done": np.asarray(dones, np.float32),
                "terminated": np.asarray(ends, np.float32),
            }
            for key, item in step.items():
                columns.setdefault(key, []).append(item)
        rollout = {k: np.stack(v) for k, v in columns.items()}
        following = self._inputs()
        rollout["next_value"] = network(**following)[1].numpy()
        rollout["next_potential"] = route_potential(following["vector"].numpy())
        rollout["outcomes"] = np.asarray(outcomes, bool)
        rollout["episode_returns"] = np.asarray(ended, np.float32)
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


def _shares(seeds: range, workers: int) -> list[range]:
    bounds = np.linspace(seeds.start, seeds.stop, workers + 1).astype(int)
    return [range(start, stop) for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]


def _joined(parts: list[Rollout]) -> Rollout:
    """Rollouts of different envs as one, along the env axis."""
    return {k: np.concatenate([p[k] for p in parts], axis=0 if k in _PER_ENV else 1) for k in parts[0]}


def _weights(network: SkillNetwork) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in network.state_dict().items()}


class ParallelSampler:
    """:class:`Sampler`\\ s in ``workers`` processes; their rollouts are joined along the env axis."""

    def __init__(self, env_id: str, seeds: range, workers: int, shape: dict):
        """``shape``: the learner's :meth:`SkillNetwork.config`, which each worker's copy takes."""
        context = mp.get_context("fork")
        self.conns, self.processes = [], []
        for share in _shares(seeds, workers):
            parent, child = context.Pipe()
            process = context.Process(target=_serve, args=(child, env_id, share, shape), daemon=True)
            process.start()
            self.conns.append(parent)
            self.processes.append(process)

    def collect(self, network: SkillNetwork, steps: int) -> Rollout:
        state = _weights(network)
        for conn in self.conns:
            conn.send((state, steps))
        return _joined([conn.recv() for conn in self.conns])

    def close(self) -> None:
        for conn, process in zip(self.conns, self.processes, strict=True):
            conn.send(None)
            process.join(timeout=10)


class RolloutActor:
    """One :class:`Sampler` and a copy of the network in a Ray actor (made remote by :class:`RaySampler`)."""

    def __init__(self, env_id: str, seeds: range, shape: dict):
        torch.set_num_threads(1)
        self.sampler, self.network = Sampler(env_id, seeds), SkillNetwork(**shape)

    def ready(self) -> bool:
        return True

    def collect(self, state: dict[str, torch.Tensor], steps: int) -> Rollout:
        self.network.load_state_dict(state)
        return self.sampler.collect(self.network, steps)


class RaySampler:
    """:class:`Sampler`\\ s in ``workers`` Ray actors of one CPU each: the weights go out once per
    rollout through Ray's object store, the rollouts come back and are joined as the local ones are."""

    def __init__(self, env_id: str, seeds: range, workers: int, shape: dict, address: str):
        self.ray = ray = join_ray(address, workers)
        actor = ray.remote(num_cpus=1)(RolloutActor)
        self.actors: list[Any] = [actor.remote(env_id, share, shape) for share in _shares(seeds, workers)]
        ray.get([a.ready.remote() for a in self.actors])  # up, as a local sampler is once constructed

    def collect(self, network: SkillNetwork, steps: int) -> Rollout:
        state = self.ray.put(_weights(network))
        return _joined(self.ray.get([a.collect.remote(state, steps) for a in self.actors]))

    def close(self) -> None:
        self.ray.shutdown()


def advantages(
    rollout: Rollout, gamma: float, gae_lambda: float, rewards: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """GAE advantages and returns, (rollout, envs) each (``rewards``: the rollout's own unless given)."""
    rewards = rollout["reward"] if rewards is None else rewards
    values, dones = rollout["value"], rollout["done"]
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
    sampler: Sampler | ParallelSampler | RaySampler
    if config.ray_address:
        sampler = RaySampler(env_id, seeds, config.workers, network.config(), config.ray_address)
    elif config.workers > 1:
        sampler = ParallelSampler(env_id, seeds, config.workers, network.config())
    else:
        sampler = Sampler(env_id, seeds)
    torch.set_num_threads(config.workers)
    start = copy.deepcopy(network).eval() if config.kl_to_start else None
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr, eps=1e-5)
    warmup_optimizer = torch.optim.Adam(network.critic.parameters(), lr=config.lr, eps=1e-5)  # the value head alone
    frames, finished, succeeded = 0, 0, 0
    last: dict[str, float] = {}
    started = time.perf_counter()
    progress = tqdm(total=config.frames, desc="ppo", unit="frame")
    try:
        while frames < config.frames:
            rollout = sampler.collect(network, config.rollout)
            frames += config.rollout * config.envs
            progress.update(config.rollout * config.envs)
            finished += len(rollout["outcomes"])
            succeeded += int(rollout["outcomes"].sum())
            advantage, returns = (
                torch.as_tensor(a).flatten()
                for a in advantages(
                    rollout, config.gamma, config.gae_lambda, shape(rollout, config.shaping, config.gamma)
                )
            )
            inputs = {k: torch.as_tensor(rollout[k]).flatten(0, 1) for k in ("cells", "flags", "coarse", "vector")}
            actions = torch.as_tensor(rollout["action"]).flatten()
            logprobs = torch.as_tensor(rollout["logprob"]).flatten()
            warming = frames <= config.value_warmup
            kl_weight = 0.0 if warming else config.kl_to_start * max(0.0, 1 - frames / config.frames)
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
                    loss = config.value * value_loss
                    if not warming:
                        loss = loss + policy_loss - config.entropy * entropy
                    if start is not None and kl_weight:
                        with torch.no_grad():
                            start_logits = start(**{k: v[idx] for k, v in inputs.items()})[0]
                        to_start = torch.distributions.kl_divergence(
                            torch.distributions.Categorical(logits=start_logits), dist
                        ).mean()
                        loss = loss + kl_weight * to_start
                    stepping = warmup_optimizer if warming else optimizer
                    network.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(network.parameters(), 0.5)
                    stepping.step()
                    with torch.no_grad():
                        log_ratio = ratio.log()
                        last = {
                            "policy_loss": policy_loss.item(),
                            "value_loss": value_loss.item(),
                            "entropy": entropy.item(),
                            "approx_kl": ((ratio - 1) - log_ratio).mean().item(),
                            "clipfrac": ((ratio - 1).abs() > config.clip).float().mean().item(),
                        }
                        if start is not None:
                            last["kl_to_start"] = to_start.item() if kl_weight else 0.0
            if writer:
                _log(writer, step0 + frames, rollout, last, returns, frames / (time.perf_counter() - started))
    finally:
        progress.close()
        if isinstance(sampler, ParallelSampler | RaySampler):
            sampler.close()
    return PPOStats(
        frames,
        finished,
        succeeded / max(1, finished),
        last.get("policy_loss", 0.0),
        last.get("value_loss", 0.0),
        last.get("entropy", 0.0),
        time.perf_counter() - started,
    )


def _log(
    writer: SummaryWriter, step: int, rollout: Rollout, last: dict[str, float], returns: torch.Tensor, fps: float
) -> None:
    """One update's scalars, named as CleanRL names them."""
    for name, value in last.items():
        writer.add_scalar(f"losses/{name}", value, step)
    values = torch.as_tensor(rollout["value"]).flatten()
    spread = returns.var().item()
    writer.add_scalar("losses/explained_variance", 1 - (returns - values).var().item() / spread if spread else 0, step)
    if len(rollout["outcomes"]):
        writer.add_scalar("charts/success_rate", float(rollout["outcomes"].mean()), step)
        writer.add_scalar("charts/episodic_return", float(rollout["episode_returns"].mean()), step)
    writer.add_scalar("charts/SPS", fps, step)
