"""The skills floor: RL-trained policies that execute subgoals, stored with model cards.

Stands on ``foreman.envs`` only and knows nothing of language models.
"""

from foreman.skills.card import CriticFit, Evaluation, SkillCard, Training
from foreman.skills.library import BUILT_IN_LIBRARY, SkillLibrary, SkillLoadError
from foreman.skills.network import SkillNetwork
from foreman.skills.observation import encode_subgoal, observe
from foreman.skills.skill import Skill

__all__ = [
    "BUILT_IN_LIBRARY",
    "CriticFit",
    "Evaluation",
    "Skill",
    "SkillCard",
    "SkillLibrary",
    "SkillLoadError",
    "SkillNetwork",
    "Training",
    "encode_subgoal",
    "observe",
]
