"""Train one skill: behaviour cloning from BabyAI-bot demonstrations on its own level.

Reads top to bottom: collect demonstrations (the bot plays the level's subgoal; it is a teacher
here and never acts in the agent) recorded as the skill sees them (its memory map), clone them
into the policy with shuffled minibatches of frames, evaluate on held-out seeds with the action
selection the agent uses, and save weights and card to the library; optionally fine-tune with PPO
in between (skills/ppo.py). Collection and evaluation run in ``workers`` processes.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from minigrid.core.actions import Actions
from minigrid.utils.baby_ai_bot import BabyAIBot
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from foreman.envs import AgentMemory, Subgoal, make_env
from foreman.envs.subgoal_levels import register_declared_level
from foreman.errors import ForemanError
from foreman.paths import user_path
from foreman.skills.card import Evaluation, SkillCard, Training
from foreman.skills.critic import CriticConfig, fit_critic
from foreman.skills.library import BUILT_IN_LIBRARY, SkillLibrary
from foreman.skills.network import N_ACTIONS, SkillNetwork, native_bf16
from foreman.skills.observation import observe
from foreman.skills.ppo import PPOConfig, finetune
from foreman.skills.rollout import Episode, in_workers, play
from foreman.skills.skill import TrainedSkill

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
    "go_to": "Foreman-GoTo-v0",
    "pick_up": "Foreman-Pickup-v0",
    "open": "Foreman-Open-v0",
    "put_next": "Foreman-PutNext-v0",
}


@dataclass(frozen=True)
class TrainConfig:
    skill: str = field(default="go_to", metadata={"positional": True})
    """the skill to train: a built-in kind (go_to, pick_up, open, put_next), cloned from the bot,
    or a skill of a new kind declared in --library (``foreman skills new``), learnt by PPO from
    its declared check alone"""
    env_id: str | None = None
    """training level (default: the skill's Foreman-* level, BossLevel's layout)"""
    demos: int = 8_000
    """bot demonstrations to clone"""
    epochs: int = 3
    batch: int = 256
    """frames per gradient step"""
    lr: float = 1e-3
    hidden: int = 64
    bf16: bool | None = None
    """cloning's forward and backward in bfloat16 autocast (weights, optimizer and loss stay
    float32); None: where the CPU computes bfloat16 natively"""
    seed: int = 0
    """demonstrations use seeds seed .. seed+demos-1"""
    workers: int = 2
    """processes collecting demonstrations and evaluating"""
    eval_episodes: int = 200
    eval_seed: int = 10_000_000
    """held-out evaluation seeds start here"""
    dagger_episodes: int = 0
    """episodes the cloned policy drives while the bot labels each state it visits (DAgger)"""
    dagger_epochs: int = 2
    """epochs over demos and labelled states after the DAgger round"""
    dagger_max_steps: int = 128
    """a DAgger episode stops here: a policy stuck in a loop adds little after that"""
    ppo_frames: int = 0
    """env frames of PPO fine-tuning after cloning (0: cloning only; a declared skill: its
    declaration's ``frames``)"""
    ppo_envs: int = 16
    ray_address: str | None = None
    """PPO's rollouts in --workers Ray actors on this cluster (auto, HOST:PORT, or local); needs foreman[ray]"""
    init: str | None = None
    """start from this trained skill (a name in the library or a skill folder) and fine-tune it
    by PPO (--ppo-frames) instead of cloning from demonstrations"""
    kl_to_start: float = 0.0
    """PPO's weight of the policy's divergence from the weights it started from, annealed to 0"""
    value_warmup: int = 0
    """PPO's first frames that train the value head alone (the policy stays as it was)"""
    shaping: float = 0.5
    """PPO's potential-based shaping weight: minus the known route length to the target as the
    potential (skills/ppo.py; 0: the check's reward alone)"""
    critic_episodes: int = 400
    """episodes of the finished policy whose outcomes its critic is fitted to (skills/critic.py);
    a quarter as many again measure the fit"""
    library: Path | None = None
    """the library folder the skill is saved in (default: skills/ in the user's foreman folder)"""
    logdir: Path | None = None
    """a TensorBoard log folder (default: none)"""
    version: str = "0.2.0"

    @property
    def level(self) -> str:
        return self.env_id or TRAINING_LEVELS[self.skill]

    def ppo(self, frames: int) -> PPOConfig:
        """The PPO run this config asks for, ``frames`` long."""
        return PPOConfig(
            frames=frames,
            envs=self.ppo_envs,
            workers=self.workers,
            ray_address=self.ray_address,
            shaping=self.shaping,
            kl_to_start=self.kl_to_start,
            value_warmup=self.value_warmup,
        )


class TrainingError(ForemanError, ValueError):
    """A training run asked for something that cannot be done: the message says what."""


Frames = dict[str, np.ndarray]
"""observe() arrays stacked over frames, plus ``action``"""


def put_down_action(env) -> int:
    """The next action towards putting the carried object down: drop where the cell ahead is
    free, else turn left to face another cell."""
    base = env.unwrapped
    return int(Actions.drop if base.grid.get(*base.front_pos) is None else Actions.left)


class Teacher:
    """The BabyAI bot as a teacher for one subgoal level's episode.

    The bot cannot pick up while holding something. For ``pick_up`` and ``put_next`` with an
    object in hand it walks to the object to pick up with the other one; where it would pick up,
    the teacher puts the carried object down (turning left until the cell ahead is free) and
    hands over to a fresh bot. (Put down at the start instead, the skills learned to free their
    hands only at a subgoal's start and not where a mission's pick-up follows a pick-up.) It
    labels states; in the agent it never acts.
    """

    def __init__(self, env):
        self.env = env.unwrapped
        self.bot = BabyAIBot(self.env)
        self.freeing_hands = False

    def act(self, taken: int | None) -> int:
        """The teacher's action, given the action actually taken after its last answer."""
        if not self.freeing_hands:
            try:
                return int(self.bot.replan(taken))
            except AssertionError:  # the bot's pick-up found the hands full
                if self.env.carrying is None:
                    raise
                self.freeing_hands = True
        if self.env.carrying is not None:
            return put_down_action(self.env)
        self.freeing_hands = False
        self.bot = BabyAIBot(self.env)
        return int(self.bot.replan(None))


def _start(env, seed: int) -> tuple[Subgoal, Teacher, AgentMemory]:
    """Reset to ``seed``; the episode's subgoal, a teacher for it, and the agent's memory."""
    obs, _ = env.reset(seed=seed)
    memory = AgentMemory()
    memory.observe(obs)
    return env.unwrapped.subgoal, Teacher(env), memory


def _demos(env_id: str, seeds: range) -> tuple[Frames, int, int]:
    """One worker's share of :func:`collect_demos`."""
    env = make_env(env_id)
    frames: dict[str, list] = {}
    kept, seen = 0, 0
    for seed in seeds:
        subgoal, teacher, memory = _start(env, seed)
        episode: dict[str, list] = {}
        action, reward, done = None, 0.0, False
        while not done:
            action = teacher.act(action)
            for key, value in (observe(memory, subgoal) | {"action": np.int64(action)}).items():
                episode.setdefault(key, []).append(value)
            obs, reward, terminated, truncated, _ = env.step(action)
            memory.observe(obs, action)
            done = terminated or truncated
        seen += len(episode["action"])
        if reward > 0 and max(episode["action"]) < N_ACTIONS:
            kept += 1
            for key, values in episode.items():
                frames.setdefault(key, []).extend(values)
    return {k: np.stack(v) for k, v in frames.items()}, kept, seen


def collect_demos(env_id: str, seeds: range, workers: int = 1) -> tuple[Frames, int, int]:
    """Bot demonstrations of each seed's subgoal, as the skill would see them.

    Returns the frames of the successful episodes, how many episodes succeeded, and the env
    frames seen in all (failed episodes included).
    """
    parts = in_workers(_demos, (env_id,), seeds, workers)
    kept = [p for p in parts if p[1]]
    frames = {k: np.concatenate([p[0][k] for p in kept]) for k in kept[0][0]} if kept else {}
    return frames, sum(p[1] for p in parts), sum(p[2] for p in parts)


def _labelled(skill: TrainedSkill, env_id: str, max_steps: int, seeds: range) -> tuple[Frames, int]:
    """One worker's share of :func:`collect_labels`."""
    env = make_env(env_id)
    frames: dict[str, list] = {}
    seen = 0
    for seed in seeds:
        subgoal, teacher, memory = _start(env, seed)
        taken, done = None, False
        for _ in range(max_steps):
            if done:
                break
            try:
                label = teacher.act(taken)
            except Exception:  # the bot has no plan for a state the policy led it into
                break
            observation = observe(memory, subgoal)
            if label < N_ACTIONS:
                for key, value in (observation | {"action": np.int64(label)}).items():
                    frames.setdefault(key, []).append(value)
            taken = skill.act_on(observation)
            obs, _, terminated, truncated, _ = env.step(taken)
            memory.observe(obs, taken)
            done = terminated or truncated
            seen += 1
    return {k: np.stack(v) for k, v in frames.items()}, seen


def collect_labels(
    skill: TrainedSkill, env_id: str, seeds: range, workers: int = 1, max_steps: int = 128
) -> tuple[Frames, int]:
    """DAgger's data: the states the skill itself visits, each labelled with the bot's action.

    Returns the labelled frames and the env frames seen. The bot only labels; the skill acts.
    """
    parts = in_workers(_labelled, (skill, env_id, max_steps), seeds, workers)
    labelled = [p for p in parts if p[0]]
    frames = {k: np.concatenate([p[0][k] for p in labelled]) for k in labelled[0][0]} if labelled else {}
    return frames, sum(p[1] for p in parts)


def _clone(
    network: SkillNetwork, data: Frames, config: TrainConfig, epochs: int, rng, writer, step: int, label: str
) -> int:
    """Epochs of behaviour cloning over ``data`` with a one-cycle learning rate; returns the step."""
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr)
    size = len(data["action"])
    batches = math.ceil(size / config.batch)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, config.lr, total_steps=epochs * batches)
    bf16 = native_bf16(config.bf16)
    with tqdm(total=epochs * batches, desc=f"{label} {config.skill}", unit="batch") as progress:
        for _ in range(epochs):
            for index in np.array_split(rng.permutation(size), batches):
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    loss, accuracy = clone_loss(network, {k: v[index] for k, v in data.items()})
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                step += 1
                progress.update()
                if writer and step % 20 == 0:
                    writer.add_scalar("losses/clone", loss.item(), step)
                    writer.add_scalar("charts/action_accuracy", accuracy, step)
    return step


def clone_loss(network: SkillNetwork, batch: Frames) -> tuple[torch.Tensor, float]:
    """Mean cross-entropy of the demonstrated actions, and the share predicted right."""
    inputs = {k: torch.as_tensor(v) for k, v in batch.items() if k != "action"}
    actions = torch.as_tensor(batch["action"])
    logits, _ = network(**inputs)
    loss = torch.nn.functional.cross_entropy(logits, actions)
    return loss, float((logits.argmax(1) == actions).float().mean())


def _evaluate(skill: TrainedSkill, env_id: str, seeds: range) -> list[Episode]:
    env = make_env(env_id)
    return [play(skill, env, seed) for seed in seeds]


def evaluate(skill: TrainedSkill, env_id: str, seeds: range, workers: int = 1) -> Evaluation:
    """Success (the level's detector rewards the subgoal) with the agent's deterministic actions."""
    episodes = [e for part in in_workers(_evaluate, (skill, env_id), seeds, workers) for e in part]
    return Evaluation(
        env_id=env_id,
        episodes=len(seeds),
        seeds=(seeds.start, seeds.stop - 1),
        success_rate=sum(e.success for e in episodes) / len(seeds),
        mean_steps=float(np.mean([e.steps for e in episodes])),
    )


def _card(
    config: TrainConfig, network: SkillNetwork, demos: int, labelled: int, frames: int, minutes: float
) -> SkillCard:
    name, description, preconditions, effects = BUILT_IN[config.skill]
    return SkillCard(
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
            demos=demos,
            dagger_episodes=labelled,
            frames=frames,
            minutes=minutes,
        ),
        weights_sha256="0" * 64,
    )


def _provisional_card(config: TrainConfig) -> SkillCard:
    return _card(config, SkillNetwork(hidden=config.hidden), 0, 0, 0, 0.0)


def training_level(card: SkillCard) -> str:
    """The id of the level a skill was trained on, registered again for a declared kind's (its
    layout is on the card), so that a new process can evaluate or refit the skill there."""
    if card.kind is not None:
        register_declared_level(card.kind, **json.loads(card.training.config.get("level", "{}")))
    return card.training.env_id


def _train_declared(config: TrainConfig, library: SkillLibrary) -> SkillCard:
    """A skill of a declared kind, learnt from its check alone: PPO from fresh weights on its
    level, rewarded as BabyAI rewards (1 - 0.9 t/T when the check holds); no teacher."""
    declared = library.declaration(config.skill)
    level = register_declared_level(declared.kind, **declared.level)
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    network = SkillNetwork(hidden=config.hidden)
    writer = SummaryWriter(str(config.logdir / config.skill)) if config.logdir else None
    stats = finetune(network, level, config.ppo(config.ppo_frames or declared.frames), writer)
    rl_minutes = (time.perf_counter() - started) / 60
    logger.info("PPO: %s", stats)
    card = SkillCard(
        name=declared.name,
        version=config.version,
        description=declared.description,
        subgoal=declared.name,
        kind=declared.kind,
        preconditions=declared.preconditions,
        effects=declared.effects,
        network=network.config(),
        training=Training(
            env_id=level,
            config={k: str(v) for k, v in asdict(config).items()} | {"level": json.dumps(declared.level)},
            demos=0,
            frames=stats.frames,
            minutes=0.0,
            rl_frames=stats.frames,
            rl_minutes=rl_minutes,
        ),
        weights_sha256="0" * 64,
    )
    return _finish(config, network, card, level, library, writer, stats.frames, started)


def _finish(
    config: TrainConfig,
    network: SkillNetwork,
    card: SkillCard,
    level: str,
    library: SkillLibrary,
    writer: SummaryWriter | None,
    step: int,
    started: float,
) -> SkillCard:
    """Fit the critic, evaluate on held-out seeds, and save the skill with its card."""
    fit = None
    if config.critic_episodes:
        critic = CriticConfig(config.critic_episodes, max(1, config.critic_episodes // 4), workers=config.workers)
        fit = fit_critic(TrainedSkill(card, network), level, critic)
        torch.set_num_threads(max(1, config.workers))
    card.training.critic = fit
    card.training.minutes += (time.perf_counter() - started) / 60
    evaluation = evaluate(
        TrainedSkill(card, network),
        level,
        range(config.eval_seed, config.eval_seed + config.eval_episodes),
        config.workers,
    )
    if writer:
        writer.add_scalar("charts/eval_success_rate", evaluation.success_rate, step)
        writer.close()
    card = card.model_copy(update={"evaluation": evaluation})
    return library.load(library.save(network, card).name).card


def _initial(config: TrainConfig, library: SkillLibrary) -> tuple[TrainedSkill, str]:
    """The trained skill ``--init`` names (a skill folder, or a name in the built-in library and
    ``--library``), as a skill of ``config.skill``'s kind, and the level to fine-tune it on.

    A declared kind may start from a skill of another kind whose network does much of the same
    (close a door from open's, which walks to doors and toggles them): its card then takes the
    declaration's kind, text and level, and keeps the other skill's training history."""
    assert config.init is not None
    folder = Path(config.init).expanduser()
    if folder.is_dir():
        skill = SkillLibrary(folder.parent).load(folder.name)
    else:
        skill = SkillLibrary(BUILT_IN_LIBRARY, library.root).load(config.init)
    if skill.card.subgoal == config.skill:
        return skill, config.env_id or training_level(skill.card)
    if config.skill in BUILT_IN:
        raise TrainingError(
            f"--init {config.init!r} executes {skill.card.subgoal!r}: a built-in kind ({config.skill!r}) starts "
            "from a skill of its own kind"
        )
    declared = library.declaration(config.skill)
    level = config.env_id or register_declared_level(declared.kind, **declared.level)
    card = skill.card.model_copy(
        update={
            "name": declared.name,
            "description": declared.description,
            "subgoal": declared.name,
            "kind": declared.kind,
            "preconditions": declared.preconditions,
            "effects": declared.effects,
            "training": skill.card.training.model_copy(
                update={"config": skill.card.training.config | {"level": json.dumps(declared.level)}}
            ),
        }
    )
    return TrainedSkill(card, skill.network), level


def _fine_tune(config: TrainConfig, library: SkillLibrary) -> SkillCard:
    """PPO from a trained skill's weights, rewarded by the check (and shaped); the card keeps the
    skill's history and adds the run's frames, minutes and success before it."""
    if not config.ppo_frames:
        raise TrainingError("--init fine-tunes by PPO: give --ppo-frames")
    initial, level = _initial(config, library)
    started = time.perf_counter()
    seeds = range(config.eval_seed, config.eval_seed + config.eval_episodes)
    before = evaluate(initial, level, seeds, config.workers)
    logger.info("before PPO: %.1f%% on %d held-out episodes", 100 * before.success_rate, len(seeds))
    torch.manual_seed(config.seed)
    network = initial.network
    writer = SummaryWriter(str(config.logdir / config.skill)) if config.logdir else None
    ppo_started = time.perf_counter()
    stats = finetune(network, level, config.ppo(config.ppo_frames), writer)
    logger.info("PPO: %s", stats)
    history = initial.card.training
    training = history.model_copy(
        update={
            "env_id": level,
            "config": history.config | {k: str(v) for k, v in asdict(config).items()},
            "frames": history.frames + stats.frames,
            "init": f"{config.init} ({initial.card.weights_sha256[:12]})",
            "rl_frames": stats.frames,
            "rl_minutes": (time.perf_counter() - ppo_started) / 60,
            "success_before_rl": before.success_rate,
        }
    )
    card = initial.card.model_copy(update={"version": config.version, "training": training, "evaluation": None})
    return _finish(config, network, card, level, library, writer, stats.frames, started)


def train(config: TrainConfig) -> SkillCard:
    """Train, evaluate and save one skill; returns its card."""
    library = SkillLibrary(config.library or user_path("skills"))
    if config.init is not None:
        return _fine_tune(config, library)
    if config.skill not in BUILT_IN:
        return _train_declared(config, library)
    config = replace(config, bf16=native_bf16(config.bf16))  # the card records what ran
    torch.set_num_threads(1)  # one thread per collecting process trained fastest; cloning takes more below
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    started = time.perf_counter()
    demos, kept, frames = collect_demos(
        config.level, range(config.seed, config.seed + config.demos), workers=config.workers
    )
    logger.info("%d demonstrations kept, %d frames of them, %d env frames", kept, len(demos["action"]), frames)
    torch.set_num_threads(max(1, config.workers))  # cloning is one process: give it every worker's core
    network = SkillNetwork(hidden=config.hidden)
    writer = SummaryWriter(str(config.logdir / config.skill)) if config.logdir else None
    step = _clone(network, demos, config, config.epochs, rng, writer, 0, "clone")
    labelled, cloned = 0, None
    if config.dagger_episodes:
        first = config.seed + config.demos
        skill = TrainedSkill(_provisional_card(config), network)
        cloned = evaluate(skill, config.level, range(config.eval_seed, config.eval_seed + 100), config.workers)
        logger.info("cloned policy before DAgger: %.1f%% on 100 held-out episodes", 100 * cloned.success_rate)
        labels, seen = collect_labels(
            skill,
            config.level,
            range(first, first + config.dagger_episodes),
            workers=config.workers,
            max_steps=config.dagger_max_steps,
        )
        torch.set_num_threads(max(1, config.workers))
        frames += seen
        labelled = config.dagger_episodes
        demos = {k: np.concatenate([demos[k], labels[k]]) for k in demos}
        logger.info("DAgger: %d labelled states from %d episodes", len(labels["action"]), labelled)
        step = _clone(network, demos, config, config.dagger_epochs, rng, writer, step, "dagger")
    rl_frames, rl_minutes = 0, 0.0
    if config.ppo_frames:
        ppo_started = time.perf_counter()
        stats = finetune(
            network,
            config.level,
            config.ppo(config.ppo_frames),
            writer,
            step,
        )
        frames += stats.frames
        rl_frames, rl_minutes = stats.frames, (time.perf_counter() - ppo_started) / 60
        logger.info("PPO: %s", stats)
    card = _card(config, network, kept, labelled, frames, 0.0)
    card.training.rl_frames, card.training.rl_minutes = rl_frames, rl_minutes
    if cloned is not None:
        card.training.cloned_success_rate = cloned.success_rate
    return _finish(config, network, card, config.level, library, writer, step, started)


def train_text(card: SkillCard) -> str:
    evaluation, training = card.evaluation, card.training
    assert evaluation is not None
    return (
        f"{card.name}: {evaluation.success_rate:.1%} success on {evaluation.episodes} held-out episodes of "
        f"{evaluation.env_id} ({training.demos} demos, {training.frames} frames, {training.minutes:.1f} min)"
    )
