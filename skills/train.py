"""Train one skill: behaviour cloning from BabyAI-bot demonstrations on its own level.

Reads top to bottom: collect demonstrations (the bot plays the level's subgoal; it is a teacher
here and never acts in the agent), clone them into the recurrent policy with truncated-free BPTT
over whole episodes, evaluate on held-out seeds with the action selection the agent uses, and
save weights and card to the library; optionally fine-tune with PPO in between (skills/ppo.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from minigrid.utils.baby_ai_bot import BabyAIBot
from torch.nn.utils.rnn import pad_sequence
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from foreman.envs import make_env
from foreman.skills.card import Evaluation, SkillCard, Training
from foreman.skills.library import BUILT_IN_LIBRARY, SkillLibrary
from foreman.skills.network import N_ACTIONS, SkillNetwork, encode_subgoal
from foreman.skills.ppo import PPOConfig, finetune
from foreman.skills.skill import Skill

logger = logging.getLogger(__name__)

# subgoal kind -> (card name, description, preconditions, effects)
BUILT_IN = {
    "go_to": ("go_to", "Walk to a matching object or door and face it.", [], ["facing the object"]),
    "pick_up": ("pick_up", "Walk to a matching object and lift it.", ["hands empty"], ["carrying the object"]),
    "open": (
        "open",
        "Walk to a matching door and open it.",
        ["a locked door needs its key in hand"],
        ["the door is open"],
    ),
    "put_next": (
        "put_next",
        "Carry a matching object next to a second one and put it down.",
        ["hands empty or carrying the object"],
        ["the object lies next to the second one"],
    ),
}
TRAINING_LEVELS = {
    "go_to": "Foreman-GoToLocal-v0",
    "pick_up": "Foreman-PickupLocal-v0",
    "open": "Foreman-OpenLocal-v0",
    "put_next": "Foreman-PutNextLocal-v0",
}


@dataclass(frozen=True)
class TrainConfig:
    skill: str = "go_to"
    """subgoal kind to train: go_to, pick_up, open or put_next"""
    env_id: str | None = None
    """training level (default: the skill's Foreman-*Local-v0)"""
    demos: int = 10_000
    """bot demonstrations to clone"""
    epochs: int = 10
    batch_episodes: int = 32
    lr: float = 2e-3
    hidden: int = 64
    seed: int = 0
    """demonstrations use seeds seed .. seed+demos-1"""
    eval_episodes: int = 200
    eval_seed: int = 10_000_000
    """held-out evaluation seeds start here"""
    ppo_frames: int = 0
    """env frames of PPO fine-tuning after cloning (0: cloning only)"""
    ppo_envs: int = 16
    library: Path = BUILT_IN_LIBRARY
    logdir: Path | None = Path("runs")
    version: str = "0.1.0"

    @property
    def level(self) -> str:
        return self.env_id or TRAINING_LEVELS[self.skill]


@dataclass(frozen=True)
class Episode:
    images: np.ndarray  # (T, 7, 7, 3)
    directions: np.ndarray  # (T,)
    actions: np.ndarray  # (T,)
    subgoal: np.ndarray  # (SUBGOAL_FEATURES,)


def collect_demos(env_id: str, seeds: range) -> tuple[list[Episode], int]:
    """Bot demonstrations of each seed's subgoal; returns the successful ones and frames seen."""
    env = make_env(env_id)
    episodes, frames = [], 0
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        bot = BabyAIBot(env.unwrapped)
        images, directions, actions = [], [], []
        action, reward, done = None, 0.0, False
        while not done:
            action = bot.replan(action)
            images.append(obs["image"])
            directions.append(obs["direction"])
            actions.append(int(action))
            obs, reward, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
        frames += len(actions)
        if reward > 0 and max(actions) < N_ACTIONS:
            episodes.append(
                Episode(
                    np.stack(images), np.asarray(directions), np.asarray(actions), encode_subgoal(env.unwrapped.subgoal)
                )
            )
    return episodes, frames


def clone_loss(network: SkillNetwork, batch: list[Episode]) -> tuple[torch.Tensor, float]:
    """Mean cross-entropy of the demonstrated actions over all steps of a batch of episodes."""
    images = pad_sequence([torch.as_tensor(e.images) for e in batch], batch_first=True)
    directions = pad_sequence([torch.as_tensor(e.directions) for e in batch], batch_first=True)
    actions = pad_sequence([torch.as_tensor(e.actions) for e in batch], batch_first=True, padding_value=-100)
    subgoals = torch.as_tensor(np.stack([e.subgoal for e in batch]))
    memory = network.initial_memory(len(batch))
    losses, correct = [], 0
    for t in range(images.shape[1]):
        logits, _, memory = network(images[:, t], directions[:, t], subgoals, memory)
        losses.append(torch.nn.functional.cross_entropy(logits, actions[:, t], ignore_index=-100, reduction="sum"))
        correct += int(((logits.argmax(1) == actions[:, t]) & (actions[:, t] >= 0)).sum())
    steps = int((actions >= 0).sum())
    return torch.stack(losses).sum() / steps, correct / steps


def evaluate(skill: Skill, env_id: str, seeds: range) -> Evaluation:
    """Success (the level's detector rewards the subgoal) with deterministic actions."""
    env = make_env(env_id)
    successes, steps = 0, []
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        skill.reset()
        subgoal = env.unwrapped.subgoal
        done, episode_steps = False, 0
        while not done:  # the level truncates at its max_steps
            obs, reward, terminated, truncated, _ = env.step(skill.act(obs, subgoal))
            done, episode_steps = terminated or truncated, episode_steps + 1
        successes += reward > 0
        steps.append(episode_steps)
    return Evaluation(
        env_id=env_id,
        episodes=len(seeds),
        seeds=(seeds.start, seeds.stop - 1),
        success_rate=successes / len(seeds),
        mean_steps=float(np.mean(steps)),
    )


def train(config: TrainConfig) -> SkillCard:
    """Train, evaluate and save one skill; returns its card."""
    if config.skill not in BUILT_IN:
        raise ValueError(f"no trainer for skill {config.skill!r}; trainable: {', '.join(BUILT_IN)}")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    started = time.perf_counter()
    demos, frames = collect_demos(config.level, range(config.seed, config.seed + config.demos))
    logger.info("%d demonstrations, %d frames", len(demos), frames)
    network = SkillNetwork(hidden=config.hidden)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr)
    writer = SummaryWriter(str(config.logdir / config.skill)) if config.logdir else None
    step = 0
    for _ in tqdm(range(config.epochs), desc=f"train {config.skill}", unit="epoch"):
        order = rng.permutation(len(demos))
        for start in range(0, len(order), config.batch_episodes):
            loss, accuracy = clone_loss(network, [demos[i] for i in order[start : start + config.batch_episodes]])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
            optimizer.step()
            step += 1
            if writer:
                writer.add_scalar("losses/clone", loss.item(), step)
                writer.add_scalar("charts/action_accuracy", accuracy, step)
    if config.ppo_frames:
        stats = finetune(network, config.level, PPOConfig(frames=config.ppo_frames, envs=config.ppo_envs), writer, step)
        frames += stats.frames
        logger.info("PPO: %s", stats)
    name, description, preconditions, effects = BUILT_IN[config.skill]
    card = SkillCard(
        name=name,
        version=config.version,
        description=description,
        subgoal=config.skill,
        preconditions=preconditions,
        effects=effects,
        network=network.config(),
        training=Training(
            env_id=config.level,
            config={k: str(v) for k, v in asdict(config).items()},
            demos=len(demos),
            frames=frames,
            minutes=(time.perf_counter() - started) / 60,
        ),
        weights_sha256="0" * 64,
    )
    evaluation = evaluate(
        Skill(card, network), config.level, range(config.eval_seed, config.eval_seed + config.eval_episodes)
    )
    if writer:
        writer.add_scalar("charts/eval_success_rate", evaluation.success_rate, step)
        writer.close()
    card = card.model_copy(update={"evaluation": evaluation})
    folder = SkillLibrary(config.library).save(network, card)
    return SkillLibrary(config.library).load(folder.name).card
