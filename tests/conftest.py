"""Shared test helpers. The BabyAI bot appears here only as a test oracle."""

from __future__ import annotations

import gymnasium as gym
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
