"""Shared test helpers. The BabyAI bot appears here only as a test oracle."""

from __future__ import annotations

import gymnasium as gym
import pytest
from minigrid.core.grid import Grid
from minigrid.core.mission import MissionSpace
from minigrid.core.world_object import WorldObj
from minigrid.minigrid_env import MiniGridEnv
from minigrid.utils.baby_ai_bot import BabyAIBot


@pytest.fixture(autouse=True)
def _user_folder(tmp_path_factory, monkeypatch):
    """Whatever a test writes by default goes to a foreman folder of the test run's, not the home."""
    monkeypatch.setenv("FOREMAN_HOME", str(tmp_path_factory.getbasetemp() / "foreman-home"))


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
def tiny_library(tmp_path_factory, worker_id):
    """A library with one small go_to skill cloned from 60 GoToLocal demos (seconds to train),
    trained once per test run and shared by the xdist workers (under a file lock)."""
    from filelock import FileLock

    from foreman.skills import SkillLibrary

    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent  # this run's folder, above each worker's own
    root = shared / "tiny_library"
    with FileLock(str(root) + ".lock"):
        if not (root / "go_to" / "card.json").exists():
            _train_tiny(root)
    return SkillLibrary(root)


def _train_tiny(root):
    from foreman.skills.train import TrainConfig, train

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


class TinyRoom(MiniGridEnv):
    """One walled room holding ``objects`` ({(x, y): object}), the agent at ``agent`` facing
    ``heading`` (MiniGrid's: 0 east); for tests that need a layout placed by hand."""

    def __init__(self, objects: dict[tuple[int, int], WorldObj], agent=(2, 2), heading=0, width=6, height=5):
        self.objects, self.start, self.heading = objects, agent, heading
        super().__init__(
            mission_space=MissionSpace(mission_func=lambda: "a room placed by hand"),
            width=width,
            height=height,
            max_steps=50,
            agent_view_size=7,
        )

    def _gen_grid(self, width, height):
        self.grid = Grid(width, height)
        self.grid.wall_rect(0, 0, width, height)
        for (x, y), obj in self.objects.items():
            self.grid.set(x, y, obj)
        self.agent_pos, self.agent_dir = self.start, self.heading
        self.mission = "a room placed by hand"
