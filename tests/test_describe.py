"""The agent's memory and text description, from observations only."""

from pathlib import Path

import numpy as np
import pytest
from minigrid.core.actions import Actions
from minigrid.core.constants import OBJECT_TO_IDX
from minigrid.core.world_object import Box

from foreman.envs import AgentMemory, ObjectDesc, current_pose, make_env
from tests.conftest import TinyRoom

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
        seen = np.argwhere(memory.grid[:, :, 0] != 0) - AgentMemory.SIZE // 2
        assert len(seen), "the walk saw nothing"
        for x, y in seen:
            cell = base.grid.get(start.pos[0] + x, start.pos[1] + y)
            code = tuple(memory.grid[x + AgentMemory.SIZE // 2, y + AgentMemory.SIZE // 2])
            assert (cell.encode() if cell is not None else (1, 0, 0)) == code


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


def _checked_against_babyai(env, memory: AgentMemory, origin) -> int:
    """Assert the memory's matches are BabyAI's for a task starting now; the cells checked."""
    from minigrid.envs.babyai.core.verifier import ObjDesc

    checked = 0
    for obj_type in ("ball", "box", "key", "door"):
        for location in (None, "front", "behind", "left", "right"):
            desc = ObjectDesc(type=obj_type, location=location)
            _, truth = ObjDesc(obj_type, None, location).find_matching_objs(env.unwrapped)
            match = memory.matching(desc)
            for x, y in np.argwhere(memory.grid[:, :, 0] == OBJECT_TO_IDX[obj_type]):
                world = (x - AgentMemory.SIZE // 2 + origin.pos[0], y - AgentMemory.SIZE // 2 + origin.pos[1])
                assert match[x, y] == (world in truth), (desc, world)
                checked += 1
    return checked


@pytest.mark.parametrize("walked", [0, 30])
@pytest.mark.parametrize("level", ["BabyAI-PickupLoc-v0", "BabyAI-BossLevel-v0"])
def test_matching_agrees_with_babyai_on_the_objects_in_view(level, walked):
    """Colour, type and location, as BabyAI resolves them for a task starting now, for what the
    agent saw: at the episode's start, or (a session's later task) from where a walk left it."""
    env = make_env(level)
    checked = 0
    for seed in range(40):
        obs, _ = env.reset(seed=seed)
        origin = current_pose(env)
        memory = AgentMemory()
        memory.observe(obs)
        walk(env, memory, walked, np.random.default_rng(seed), actions=(0, 1, 2, 2, 2))
        memory.anchor_here()
        checked += _checked_against_babyai(env, memory, origin)
    assert checked > 100


def test_a_task_starting_in_a_doorway_names_the_room_babyai_puts_it_in():
    """BabyAI counts a doorway in the room east (or south) of it, whichever way the agent faces."""
    env = make_env("BabyAI-BossLevel-v0")
    doorways = 0
    for seed in range(60):
        obs, _ = env.reset(seed=seed)
        origin = current_pose(env)
        memory = AgentMemory()
        memory.observe(obs)
        rng = np.random.default_rng(seed)
        for _ in range(300):
            action = int(rng.choice([0, 1, 2, 2, 2, 5]))
            obs, *_ = env.step(action)
            memory.observe(obs, action)
            if env.unwrapped.grid.get(*env.unwrapped.agent_pos) is not None:  # an open door's cell
                memory.anchor_here()
                _checked_against_babyai(env, memory, origin)
                doorways += 1
                break
    assert doorways >= 10


def test_crop_puts_the_agent_at_the_centre_facing_up():
    env = make_env("BabyAI-GoToLocal-v0", seed=0)
    obs, _ = env.reset()
    memory = AgentMemory()
    memory.observe(obs)
    radius = 3
    crop = memory.crop(memory.grid, radius)
    view = np.asarray(obs["image"])  # view[i, j]: i = right + 3, j = 6 - ahead
    for ahead in range(1, 4):
        for right in range(-3, 4):
            if view[right + 3, 6 - ahead, 0] != OBJECT_TO_IDX["unseen"]:
                assert tuple(crop[radius - ahead, radius + right]) == tuple(view[right + 3, 6 - ahead])


def test_an_object_the_agent_moved_keeps_the_location_it_started_in():
    """BabyAI fixes which objects "behind you" names when the mission starts: a box carried from
    behind the start to in front of it is still the box behind you."""
    env = TinyRoom({(1, 2): Box("yellow")})
    obs, _ = env.reset(seed=0)
    memory = AgentMemory()
    memory.observe(obs)
    behind, in_front = ObjectDesc(type="box", location="behind"), ObjectDesc(type="box", location="front")
    for action in (Actions.left, Actions.left, Actions.pickup, Actions.left, Actions.left, Actions.drop):
        obs, *_ = env.step(action)
        memory.observe(obs, action)
    assert tuple(env.front_pos) == (3, 2) and env.grid.get(3, 2).type == "box"  # now ahead of the start
    box = (1 + AgentMemory.SIZE // 2, 0 + AgentMemory.SIZE // 2)
    assert memory.matching(behind)[box] and not memory.matching(in_front)[box]
    assert memory.matching(behind).sum() == 1 and not memory.matching(in_front).any()


def test_what_was_in_hand_when_a_task_began_is_not_what_its_descriptions_name():
    """BabyAI names the objects lying in the world when a task starts: the box carried into a
    session's next task and set down is not "a box" of that task, the other box is."""
    env = TinyRoom({(3, 2): Box("yellow"), (2, 3): Box("red")}, width=7, height=6)
    obs, _ = env.reset(seed=0)
    memory = AgentMemory()
    memory.observe(obs)
    obs, *_ = env.step(Actions.pickup)  # the yellow box, ahead: the first task's
    memory.observe(obs, Actions.pickup)
    memory.anchor_here()  # the next task begins with it in hand
    for action in (Actions.left, Actions.left, Actions.drop, Actions.right):
        obs, *_ = env.step(action)
        memory.observe(obs, action)
    assert env.grid.get(1, 2).type == "box"  # set down behind the start cell
    dropped, other = (
        (-1 + AgentMemory.SIZE // 2, AgentMemory.SIZE // 2),
        (AgentMemory.SIZE // 2, 1 + AgentMemory.SIZE // 2),
    )
    match = memory.matching(ObjectDesc(type="box"))
    assert not match[dropped] and match[other]
    memory.anchor_here()  # a task after that one: the box lies in the world now
    assert memory.matching(ObjectDesc(type="box"))[dropped]


def test_plain_minigrid_things_are_described_as_a_person_would():
    from foreman.envs import AgentMemory, make_env

    memory = AgentMemory()
    memory.observe(make_env("MiniGrid-LavaGapS5-v0").reset(seed=1)[0])
    assert memory.describe().splitlines()[1:] == [
        "In front of you: lava.",
        "You see: lava (1 ahead); lava (1 ahead, 2 right); a green goal square (2 ahead, 2 right).",
    ]
