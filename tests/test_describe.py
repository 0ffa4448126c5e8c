"""The agent's memory and text description, from observations only."""

from pathlib import Path

import numpy as np
import pytest
from minigrid.core.actions import Actions

from foreman.envs import AgentMemory, current_pose, make_env

GOLDEN = Path(__file__).parent / "golden"
WALK = [Actions.forward, Actions.left, Actions.forward, Actions.forward, Actions.right]


def walk(env, memory, steps, rng, actions=(0, 1, 2, 2, 2, 5)):
    for _ in range(steps):
        action = int(rng.choice(actions))
        obs, *_ = env.step(action)
        memory.observe(obs, action)


@pytest.mark.parametrize("level", ["BossLevel", "GoToSeq", "MiniGrid-MultiRoom-N6-v0"])
def test_memory_matches_the_true_grid_after_a_long_walk(level):
    """Every remembered object lies where the memory says, seen through dead reckoning."""
    env = make_env(level if level.startswith("MiniGrid") else f"BabyAI-{level}-v0")
    rng = np.random.default_rng(0)
    for seed in range(8):
        obs, _ = env.reset(seed=seed)
        start = current_pose(env)
        memory = AgentMemory()
        memory.observe(obs)
        walk(env, memory, 300, rng)  # turns, moves and toggles: doors open, nothing moves
        base = env.unwrapped
        assert np.array_equal(np.add(start.pos, memory.position), base.agent_pos)
        remembered = memory._cells
        assert remembered, "the walk saw nothing"
        for (x, y), (obj_type, color, state) in remembered.items():
            cell = base.grid.get(start.pos[0] + x, start.pos[1] + y)
            assert cell is not None and cell.encode() == (obj_type, color, state)


def test_carrying_and_moved_objects_are_tracked():
    env = make_env("Foreman-DropLocal-v0", seed=2)
    obs, _ = env.reset()
    memory = AgentMemory()
    memory.observe(obs)
    carried = env.unwrapped.carrying
    assert memory.carrying == f"{carried.color} {carried.type}"
    base = env.unwrapped
    while base.grid.get(*base.front_pos) is not None:
        obs, *_ = env.step(Actions.left)
        memory.observe(obs, Actions.left)
    obs, *_ = env.step(Actions.drop)
    memory.observe(obs, Actions.drop)
    assert memory.carrying is None
    assert [(o.ahead, o.right) for o in memory.objects() if o.name == memory.objects()[0].name][0] == (1, 0)
    obs, *_ = env.step(Actions.pickup)
    memory.observe(obs, Actions.pickup)
    assert memory.carrying == f"{carried.color} {carried.type}"
    assert (1, 0) not in [(o.ahead, o.right) for o in memory.objects()]


@pytest.mark.parametrize(
    ("env_id", "seed"), [("BabyAI-BossLevel-v0", 1), ("BabyAI-GoToLocal-v0", 4), ("BabyAI-SynthSeq-v0", 9)]
)
def test_description_golden(env_id, seed):
    env = make_env(env_id, seed=seed)
    obs, _ = env.reset()
    memory = AgentMemory()
    memory.observe(obs)
    pages = [f"mission: {obs['mission']}", memory.describe()]
    rng = np.random.default_rng(seed)
    for _ in range(3):
        walk(env, memory, 12, rng)
        pages.append(memory.describe())
    text = "\n---\n".join(pages) + "\n"
    golden = GOLDEN / f"describe_{env_id}_{seed}.txt"
    assert text == golden.read_text()
