"""BALROG's BabyAI levels: task kinds, splits, the locked door, and the bot solving each kind."""

import pytest
from minigrid.core.world_object import Door

from foreman.envs import make_env, parse_mission
from foreman.envs.balrog_levels import HELD_OUT, TASKS
from tests.conftest import bot_actions


def _named(mission: str) -> set[tuple[str, str]]:
    import re

    return set(re.findall(r"(red|green|blue|purple|yellow|grey) (ball|box|key|door)", mission))


@pytest.mark.parametrize("split", ["Train", "Test"])
@pytest.mark.parametrize("task", TASKS)
def test_each_task_kind_parses_keeps_its_split_and_the_bot_solves_it_in_100_steps(split, task):
    env = make_env(f"Foreman-Mixed{split}Local-v0", task=task)
    for seed in range(10):
        obs, _ = env.reset(seed=seed)
        assert env.unwrapped.task_kind == task and env.unwrapped.max_steps == 100
        parse_mission(obs["mission"])
        named = _named(obs["mission"]) & HELD_OUT
        assert bool(named) == (split == "Test"), obs["mission"]
        *_, (_, (_, reward, terminated, _, _)) = bot_actions(env)
        assert terminated and reward > 0, (seed, obs["mission"])


def test_open_has_a_locked_door_whose_key_is_in_the_agents_room():
    env = make_env("Foreman-MixedTrainLocal-v0", task="open")
    for seed in range(10):
        env.reset(seed=seed)
        base = env.unwrapped
        doors = [c for c in base.grid.grid if isinstance(c, Door)]
        assert len(doors) == 1 and doors[0].is_locked
        room = base.room_from_pos(*base.agent_pos)
        keys = [o for o in room.objs if o.type == "key" and o.color == doors[0].color]
        assert keys


def test_a_random_level_draws_every_kind():
    env = make_env("Foreman-MixedTrainLocal-v0")
    kinds = set()
    for seed in range(60):
        env.reset(seed=seed)
        kinds.add(env.unwrapped.task_kind)
    assert kinds == set(TASKS)
