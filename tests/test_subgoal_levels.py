import pickle

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from minigrid.core.actions import Actions
from minigrid.core.constants import DIR_TO_VEC

from foreman.envs import Drop, SubgoalLevel, make_env, subgoal_level_ids

IDS = subgoal_level_ids()


def rollout(env, seed, steps=60):
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    frames = [(obs["mission"], obs["image"].tobytes())]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        frames.append((obs["image"].tobytes(), reward, terminated, truncated))
        if terminated or truncated:
            obs, _ = env.reset()
            frames.append((obs["mission"], obs["image"].tobytes()))
    return frames


@pytest.mark.parametrize("env_id", IDS)
def test_passes_gymnasium_check_env(env_id):
    check_env(make_env(env_id).unwrapped, skip_render_check=True)


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_same_rollout(env_id):
    assert rollout(make_env(env_id), seed=11) == rollout(make_env(env_id), seed=11)
    assert rollout(make_env(env_id), seed=11) != rollout(make_env(env_id), seed=12)


@pytest.mark.parametrize("env_id", IDS)
def test_pickled_env_continues_identically(env_id):
    env = make_env(env_id, seed=5)
    env.reset()
    clone = pickle.loads(pickle.dumps(env))
    for action in (Actions.forward, Actions.left, Actions.forward, Actions.pickup, Actions.toggle):
        a, b = env.step(action), clone.step(action)
        assert np.array_equal(a[0]["image"], b[0]["image"]) and a[1:4] == b[1:4]


@pytest.mark.parametrize("env_id", [i for i in IDS if "Drop" not in i])
def test_the_teacher_solves_the_subgoal_and_is_rewarded(env_id):
    """The subgoal levels are solvable: the skills' teacher (the bot, putting down what it holds
    before a pickup) succeeds on 20 seeds. The bot sometimes puts a key down on its way to the
    locked door and fetches it later, which the open level fails (the agent's loop stops there);
    its demonstrations keep only successes, so that may happen, and only that, once or twice."""
    from foreman.skills.train import Teacher

    env = make_env(env_id)
    key_put_down = 0
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        assert obs["mission"] == env.unwrapped.subgoal.to_text()
        teacher, action, done = Teacher(env), None, False
        while not done:
            action = teacher.act(action)
            held = env.unwrapped.carrying
            _, reward, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
        if reward == 0 and action == Actions.drop and held is not None and held.type == "key" and "Open" in env_id:
            key_put_down += 1
            continue
        assert terminated and reward > 0, (seed, obs["mission"])
    assert key_put_down <= 2


@pytest.mark.parametrize("env_id", ["Foreman-GoTo-v0", "Foreman-Pickup-v0", "Foreman-PutNext-v0"])
def test_maze_levels_sometimes_start_with_an_unnamed_object_in_hand(env_id):
    env = make_env(env_id)
    held = 0
    for seed in range(40):
        env.reset(seed=seed)
        base = env.unwrapped
        if base.carrying is not None:
            held += 1
            named = [getattr(base.subgoal, "target", None), getattr(base.subgoal, "next_to", None)]
            assert not any(d and d.matches(base.carrying.color, base.carrying.type) for d in named)
            assert base.carrying.cur_pos is None
    assert 4 <= held <= 24


def _starting_with_the_targets_key(seeds: range):
    """The open level's episodes among ``seeds`` that target the locked door with its key in hand."""
    env = make_env("Foreman-Open-v0")
    for seed in seeds:
        env.reset(seed=seed)
        base = env.unwrapped
        locked = [c for c in base.grid.grid if c is not None and c.type == "door" and c.is_locked]
        carried = base.carrying
        if locked and carried is not None and carried.type == "key" and carried.color == locked[0].color:
            if base.subgoal.target.matches(locked[0].color, "door"):
                yield env, locked[0]


def test_the_open_level_sometimes_targets_the_locked_door_with_its_key_in_hand():
    with_key = 0
    for env, door in _starting_with_the_targets_key(range(60)):
        with_key += 1
        assert env.unwrapped.subgoal.target.color == door.color and env.unwrapped.carrying.cur_pos is None
    assert 3 <= with_key <= 25


def test_putting_the_key_down_before_its_locked_door_opens_fails_the_open_level():
    ended = 0
    for env, _ in _starting_with_the_targets_key(range(120)):
        base = env.unwrapped
        if base.grid.get(*base.front_pos) is not None:  # nowhere to put it down
            continue
        _, reward, terminated, truncated, _ = env.step(Actions.drop)
        assert base.carrying is None and terminated and not truncated and reward == 0
        ended += 1
    assert ended >= 3


def test_the_open_level_sometimes_leaves_the_one_door_it_names_open_and_wants_it_toggled_twice():
    env = make_env("Foreman-Open-v0")
    already_open = 0
    for seed in range(100):
        env.reset(seed=seed)
        base = env.unwrapped
        target = base.subgoal.target
        opened = [c for c in base.grid.grid if c is not None and c.type == "door" and c.is_open]
        if not opened:  # every door of a generated maze starts shut
            continue
        already_open += 1
        assert len(opened) == 1 and target.matches(opened[0].color, "door") and target.article == "the"
        if already_open == 1:  # step in front of it: one toggle shuts it, the second succeeds
            door = opened[0]
            base.agent_pos = next(
                tuple(door.cur_pos + d)
                for d in (np.array(v) for v in ((1, 0), (-1, 0), (0, 1), (0, -1)))
                if base.grid.get(*(door.cur_pos + d)) is None
            )
            base.agent_dir = next(
                k for k in range(4) if tuple(base.agent_pos + np.array(DIR_TO_VEC[k])) == tuple(door.cur_pos)
            )
            *_, terminated, _, _ = env.step(Actions.toggle)
            assert not terminated and not door.is_open
            _, reward, terminated, _, _ = env.step(Actions.toggle)
            assert terminated and reward > 0
    assert 4 <= already_open <= 25


@pytest.mark.parametrize("env_id", ["Foreman-DropLocal-v0", "Foreman-Drop-v0"])
def test_drop_levels_start_carrying_and_reward_a_drop(env_id):
    env = make_env(env_id)
    for seed in range(10):
        obs, _ = env.reset(seed=seed)
        base = env.unwrapped
        carried = base.carrying
        assert isinstance(base.subgoal, Drop) and carried is not None
        assert base.subgoal.target.matches(carried.color, carried.type)
        while base.grid.get(*base.front_pos) is not None:
            env.step(Actions.left)
        _, reward, terminated, _, _ = env.step(Actions.drop)
        assert terminated and reward > 0 and base.carrying is None


def test_knobs_shape_the_level():
    env = SubgoalLevel(subgoal_kind="pick_up", room_size=6, num_rows=2, num_cols=2, num_dists=3)
    env.reset(seed=0)
    assert (env.width, env.height) == (11, 11)
    objects = [c for c in env.grid.grid if c is not None and c.type in ("ball", "box", "key")]
    assert len(objects) == 3


def test_bad_knobs_are_clear_errors():
    with pytest.raises(ValueError, match="unknown subgoal kind"):
        SubgoalLevel(subgoal_kind="fly")
    with pytest.raises(ValueError, match="two rooms or more"):
        SubgoalLevel(subgoal_kind="open")


def test_a_kind_that_takes_a_goal_square_gets_one_in_its_level_outside_the_locked_room():
    from foreman.envs import KindSpec
    from foreman.envs.subgoal_levels import register_declared_level

    reach = {"name": "reach", "says": "go to {goal}", "arguments": [{"name": "goal", "type": "goal"}]}
    kind = KindSpec.model_validate(reach | {"check": {"on": "goal"}})
    env = make_env(register_declared_level(kind, num_rows=2, num_cols=2, num_dists=4, locked_room_prob=1.0))
    for seed in range(5):
        obs, _ = env.reset(seed=seed)
        base = env.unwrapped
        goals = [o for o in base.grid.grid if o is not None and o.type == "goal"]
        assert obs["mission"] in ("go to the green goal", "go to the goal") and len(goals) == 1
        x, y = goals[0].cur_pos
        assert not base.locked_room.pos_inside(x, y)
