"""``foreman skills list | new | eval | fit-critic`` and ``foreman train``'s report: the skill library."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foreman.envs import make_env
from foreman.paths import user_path
from foreman.skills.card import SkillCard
from foreman.skills.critic import CriticConfig, fit_critic
from foreman.skills.library import BUILT_IN_LIBRARY, SkillLibrary
from foreman.skills.train import evaluate, training_level


@dataclass(frozen=True)
class ListConfig:
    library: Path = BUILT_IN_LIBRARY
    """a library folder"""


def list_skills(config: ListConfig) -> list[SkillCard]:
    return SkillLibrary(config.library).cards()


def list_skills_text(cards: list[SkillCard]) -> str:
    lines = []
    for card in cards:
        success = (
            f"{card.evaluation.success_rate:.1%} on {card.evaluation.env_id}" if card.evaluation else "not evaluated"
        )
        lines.append(f"{card.name} {card.version} ({card.subgoal}): {card.description} [{success}]")
    return "\n".join(lines)


@dataclass(frozen=True)
class NewSkillConfig:
    name: str = field(metadata={"positional": True})
    """the skill's name, which its kind takes too: lower case, digits and underscores"""
    library: Path | None = None
    """the library folder to make it in (default: skills/ in the user's foreman folder)"""


def new_skill(config: NewSkillConfig) -> dict[str, Any]:
    """A folder for a skill of a new kind, holding a declaration (``skill.json``) to edit."""
    library = SkillLibrary(config.library or user_path("skills"))
    path = library.new(config.name)
    return {"declaration": str(path), "train": f"foreman train {config.name} --library {library.root}"}


def new_skill_text(made: dict[str, Any]) -> str:
    return (
        f"Made {made['declaration']}: write what the skill does (description), its kind (arguments, "
        f"wording, success check) and its training level there, then train it:\n  {made['train']}"
    )


@dataclass(frozen=True)
class SkillEvalConfig:
    name: str = field(metadata={"positional": True})
    """the skill"""
    episodes: int = 100
    seed: int = 10_000_000
    """the first episode's seed"""
    env: str | None = None
    """the level (default: the one on the skill's card)"""
    workers: int = 2
    """processes playing episodes"""
    library: Path = BUILT_IN_LIBRARY
    """a library folder"""
    write_card: bool = False
    """store the result as the card's evaluation (not in the read-only built-in library)"""


def evaluate_skill(config: SkillEvalConfig) -> dict[str, Any]:
    """A skill's success on seeds of its level, played as the agent plays it."""
    library = SkillLibrary(config.library)
    skill = library.load(config.name)
    card = skill.card
    env_id = config.env or training_level(card)
    make_env(env_id)
    result = evaluate(skill, env_id, range(config.seed, config.seed + config.episodes), workers=config.workers)
    if config.write_card:
        library.save(skill.network, card.model_copy(update={"evaluation": result}))
    return {"skill": skill.name, **result.model_dump(mode="json")}


def evaluate_skill_text(record: dict[str, Any]) -> str:
    first, last = record["seeds"][0], record["seeds"][-1]
    return (
        f"{record['skill']}: {record['success_rate']:.1%} success on {record['episodes']} episodes of "
        f"{record['env_id']} (seeds {first}..{last}), {record['mean_steps']:.1f} steps on average"
    )


@dataclass(frozen=True)
class FitCriticConfig:
    name: str = field(metadata={"positional": True})
    """the skill"""
    critic: CriticConfig = field(default_factory=CriticConfig)
    library: Path = BUILT_IN_LIBRARY
    """the library folder the skill is read from"""
    out: Path | None = None
    """the library folder the refitted skill is saved in (default: --library, or skills/ in the
    user's foreman folder when that is the read-only built-in one)"""


def fit_skill_critic(config: FitCriticConfig) -> SkillCard:
    """Fit a skill's value to its own outcomes (an affordance score); the policy is unchanged."""
    skill = SkillLibrary(config.library).load(config.name)
    fit = fit_critic(skill, training_level(skill.card), config.critic)
    out = config.out or (user_path("skills") if config.library == BUILT_IN_LIBRARY else config.library)
    card = skill.card.model_copy(update={"training": skill.card.training.model_copy(update={"critic": fit})})
    library = SkillLibrary(out)
    return library.load(library.save(skill.network, card).name).card


def fit_skill_critic_text(card: SkillCard) -> str:
    fit = card.training.critic
    assert fit is not None
    return (
        f"{card.name}: critic fitted on {fit.states} states of {fit.episodes} episodes ({fit.success_rate:.1%} "
        f"succeeded); on {fit.held_out_episodes} held-out episodes the first-step value has Brier score "
        f"{fit.brier:.3f} (always {fit.success_rate:.2f}: {fit.brier_of_base_rate:.3f})"
    )
