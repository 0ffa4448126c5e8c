"""Privileged executors for ablations: the BabyAI bot as a skill, and the bot alone.

Both read the true env state. They isolate execution errors (``--skills bot``: planning is the
agent's, execution is perfect-ish) and give the upper bound (``--baseline bot``). Neither is ever
part of the agent: they live here, in the benchmarks, not in ``skills/``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
from minigrid.core.actions import Actions
from minigrid.utils.baby_ai_bot import BabyAIBot

from foreman.envs import AgentMemory, Pose, Subgoal, current_pose, verifier_for
from foreman.skills.train import put_down_action


class _Mission:
    """The env as the bot sees it, with one subgoal's verifier in place of the mission."""

    def __init__(self, env, instrs):
        self._env, self.instrs = env, instrs

    @property
    def unwrapped(self):
        return self

    def __getattr__(self, name):
        return getattr(self._env, name)


class BotSkill:
    """The bot executing one subgoal kind: an oracle, for ``--skills bot`` ablations only.

    Locations resolve against the episode's start pose, as the detectors do; what the bot has
    seen carries over from one subgoal to the next.
    """

    identity = "privileged BabyAI bot"

    def __init__(self, kind: str, env: gym.Env):
        self.kind, self.env = kind, env
        self.name = f"bot_{kind}"
        self.start: Pose | None = None
        self._seen = None
        self._bot: Any = None  # BabyAIBot, made at a subgoal's first action
        self._last: int | None = None
        self._freeing_hands = False

    def begin(self, subgoal: Subgoal) -> None:
        base: Any = self.env.unwrapped
        if base.step_count == 0:  # a new episode
            self.start, self._seen = current_pose(self.env), None
        instrs = verifier_for(subgoal)
        saved = (base.agent_pos, base.agent_dir)
        if self.start is not None:
            base.agent_pos, base.agent_dir = self.start.pos, self.start.dir
        instrs.reset_verifier(base)
        base.agent_pos, base.agent_dir = saved
        self._bot = BabyAIBot(_Mission(base, instrs))
        if self._seen is not None and self._seen.shape == self._bot.vis_mask.shape:
            self._bot.vis_mask = self._seen
        self._last = None

    def reset(self) -> None:
        self._bot, self._freeing_hands = None, False

    def act(self, memory: AgentMemory, subgoal: Subgoal) -> int:
        if self._bot is None:
            self.begin(subgoal)
        if self._last == Actions.drop:
            self._bot.mission.instrs.update_objs_poss()
        base: Any = self.env.unwrapped
        if self._freeing_hands:
            if base.carrying is not None:
                action = put_down_action(base)
                self._seen, self._last = self._bot.vis_mask, action
                return action
            self._freeing_hands = False
            self.begin(subgoal)
        try:
            action = int(self._bot.replan(self._last))
        except AssertionError:  # the bot's pick-up found its hands full: free them, then a fresh bot
            if base.carrying is None:
                return self._idle()
            self._freeing_hands = True
            return self.act(memory, subgoal)
        except (IndexError, KeyError, TypeError):
            return self._idle()
        self._seen = self._bot.vis_mask
        self._last = action
        return action

    def _idle(self) -> int:
        """The bot has no plan for this state: a no-op."""
        self._seen, self._last = self._bot.vis_mask, int(Actions.done)
        return self._last

    def value(self, memory: AgentMemory, subgoal: Subgoal) -> float | None:
        return None


def bot_episode(env: gym.Env, seed: int | None) -> dict:
    """The bot alone on the env's own mission: the upper-bound baseline."""
    obs, _ = env.reset(seed=seed)
    bot = BabyAIBot(env.unwrapped)
    action, steps, done = None, 0, False
    reward: Any = 0.0
    while not done:
        action = bot.replan(action)
        obs, reward, terminated, truncated, _ = env.step(action)
        steps += 1
        done = terminated or truncated
    return {"success": bool(reward > 0), "reward": float(reward), "steps": steps}
