"""The skills shipped in skills/library: present, loadable, and as good as their cards say."""

import pytest

from foreman.skills import SkillLibrary
from foreman.skills.train import evaluate, training_level

BUILT_IN = ["close", "go_to", "move_aside", "open", "pick_up", "put_down", "put_next", "reach"]


def test_every_built_in_skill_ships_with_a_card():
    assert [c.name for c in SkillLibrary().cards()] == BUILT_IN


@pytest.mark.parametrize("name", BUILT_IN)
def test_shipped_skill_reaches_its_card_success_on_a_seed_sample(name):
    skill = SkillLibrary().load(name)
    training_level(skill.card)  # a declared kind's level is registered from its card
    card = skill.card.evaluation
    first = card.seeds[0]
    # 20 of the card's own (seeded, so deterministic) episodes: a broken skill fails most of them
    sample = evaluate(skill, card.env_id, range(first, first + 20))
    assert sample.success_rate >= card.success_rate - 0.1
