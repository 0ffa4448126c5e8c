"""The skills floor: RL-trained policies that execute subgoals, stored with model cards.

Stands on ``foreman.envs`` only and knows nothing of language models.
"""

from foreman.skills.card import CriticFit, Evaluation, SkillCard, Training
from foreman.skills.library import BUILT_IN_LIBRARY, SkillLibrary, SkillLoadError
from foreman.skills.network import SkillNetwork
from foreman.skills.observation import encode_subgoal, observe
from foreman.skills.skill import Skill, TrainedSkill

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
    "TrainedSkill",
    "encode_subgoal",
    "observe",
]
