"""Shared test helpers. The BabyAI bot appears here only as a test oracle."""

from __future__ import annotations

import gymnasium as gym
import pytest
from minigrid.utils.baby_ai_bot import BabyAIBot


def bot_actions(env: gym.Env, max_steps: int = 2000):
    """Yield (action, step result) while the BabyAI bot plays the env's own mission."""
    bot = BabyAIBot(env.unwrapped)
    action = None
    for _ in range(max_steps):
        action = bot.replan(action)
        result = env.step(action)
        yield action, result
        if result[2] or result[3]:
            return


@pytest.fixture(scope="session")
def tiny_library(tmp_path_factory):
    """A library with one small go_to skill cloned from 60 GoToLocal demos (seconds to train)."""
    from foreman.skills import SkillLibrary
    from foreman.skills.train import TrainConfig, train

    root = tmp_path_factory.mktemp("library")
    config = TrainConfig(
        skill="go_to",
        env_id="Foreman-GoToLocal-v0",
        demos=60,
        epochs=4,
        batch=64,
        hidden=32,
        workers=1,
        dagger_episodes=0,
        eval_episodes=2,
        critic_episodes=4,
        library=root,
        logdir=None,
    )
    train(config)
    return SkillLibrary(root)
