"""BALROG's BabyAI levels as BALROG lays them out: kinds, splits, settings, step limits, the locked
door on either side, and the bot solving each kind."""

import pytest
from minigrid.core.world_object import Door

from foreman.envs import make_env, parse_mission
from foreman.envs.balrog_levels import HELD_OUT, TASKS
from tests.conftest import bot_actions

STEP_LIMIT = {"goto": 64, "pickup": 64, "open": 128, "putnext": 128, "pick_up_seq_go_to": 128}


def _named(mission: str) -> list[tuple[str, str]]:
    import re

    return re.findall(r"(red|green|blue|purple|yellow|grey) (ball|box|key|door)", mission)


def _objects(base) -> list:
    return [c for c in base.grid.grid if c is not None and c.type not in ("wall", "door")]


@pytest.mark.parametrize("setting", ["balrog", "glam"])
@pytest.mark.parametrize("split", ["Train", "Test"])
@pytest.mark.parametrize("task", TASKS)
def test_each_kind_keeps_its_split_and_step_limit_and_the_bot_solves_it(split, task, setting):
    env = make_env(f"Foreman-Mixed{split}Local-v0", task=task, setting=setting)
    for seed in range(8):
        obs, _ = env.reset(seed=seed)
        base = env.unwrapped
        assert base.task_kind == task and base.max_steps == STEP_LIMIT[task]
        assert (base.width, base.height) == ((15, 8) if task == "open" else (8, 8))
        targets = 1 if task in ("goto", "pickup", "open") else 2
        assert len(_objects(base)) == targets + (8 if setting == "glam" else 0)
        parse_mission(obs["mission"])
        named = _named(obs["mission"])
        if split == "Test":
            assert named and all(pair in HELD_OUT for pair in named), obs["mission"]
        else:
            assert not set(named) & HELD_OUT, obs["mission"]
        x, y = base.agent_pos
        beside = [base.grid.get(x + dx, y + dy) for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1))]
        assert not any(c is not None and c.type not in ("wall", "door") for c in beside)
        *_, (_, (_, reward, terminated, _, _)) = bot_actions(env)
        assert terminated and reward > 0, (seed, obs["mission"])


@pytest.mark.parametrize("split", ["Train", "Test"])
def test_open_has_a_locked_door_on_either_side_whose_key_is_in_the_agents_room(split):
    env = make_env(f"Foreman-Mixed{split}Local-v0", task="open")
    sides, colours = set(), set()
    for seed in range(20):
        env.reset(seed=seed)
        base = env.unwrapped
        [door] = [c for c in base.grid.grid if isinstance(c, Door)]
        assert door.is_locked
        room = base.room_from_pos(*base.agent_pos)
        assert [o for o in room.objs if o.type == "key" and o.color == door.color]
        sides.add(base.agent_pos[0] < door.cur_pos[0])
        colours.add(door.color)
    assert sides == {True, False}
    assert colours <= ({"red", "grey"} if split == "Test" else {"green", "blue", "purple", "yellow"})


def test_a_random_level_draws_every_kind():
    env = make_env("Foreman-MixedTrainLocal-v0")
    kinds = set()
    for seed in range(60):
        env.reset(seed=seed)
        kinds.add(env.unwrapped.task_kind)
    assert kinds == set(TASKS)


def test_an_unknown_setting_is_refused():
    with pytest.raises(ValueError, match="unknown setting"):
        make_env("Foreman-MixedTrainLocal-v0", setting="paper")
