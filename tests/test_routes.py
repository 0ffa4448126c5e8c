import numpy as np
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX

from foreman.envs import AgentMemory, ObjectDesc, Open
from foreman.skills.observation import target_cells
from foreman.skills.routes import drop_spots, keys_to_locked_doors, routes, unexplored

_STATES = {"closed": 1, "locked": 2}
NORTH = 3
AHEAD, RIGHT, BEHIND, LEFT = 2, 3, 4, 5  # columns of the one-hot first step


def _view(cells: dict[tuple[int, int], str]) -> dict:
    """A 7x7 egocentric view of floor (the agent at column 3, bottom row, facing up, its own
    cell showing what it carries) with ``cells`` at (column, row) replaced: "wall", "unseen", or
    a colour and type ("red ball", "yellow key", "locked yellow door", "closed red door"; a door
    without a state is open)."""
    image = np.zeros((7, 7, 3), dtype=np.uint8)
    image[:, :, 0] = OBJECT_TO_IDX["empty"]
    for (i, j), name in cells.items():
        *words, kind = name.split()
        if kind in ("wall", "unseen"):
            image[i, j, 0] = OBJECT_TO_IDX[kind]
        else:
            image[i, j] = (OBJECT_TO_IDX[kind], COLOR_TO_IDX[words[-1]], _STATES.get(words[0], 0))
    return {"image": image, "direction": NORTH, "mission": ""}


def _memory(cells: dict[tuple[int, int], str]) -> AgentMemory:
    memory = AgentMemory()
    memory.observe(_view(cells))
    return memory


def test_the_route_to_unexplored_space_from_a_fresh_view_starts_behind():
    features = routes(_memory({}), [unexplored(_memory({}))])[0]
    assert features[0] == 1.0 and features[BEHIND] == 1.0
    assert features[1] * 20 == 1  # the unseen cell right behind the agent


def test_a_route_round_a_wall_turns_the_way_round_and_counts_its_steps():
    wall = {(i, 5): "wall" for i in range(0, 5)}  # blocks the cell ahead and everything left of it
    memory = _memory(wall | {(3, 3): "red ball"})
    target = memory.matching(ObjectDesc(color="red", type="ball"))
    features = routes(memory, [target])[0]
    assert features[0] == 1.0 and features[RIGHT] == 1.0
    assert np.count_nonzero(features[AHEAD:]) == 1
    # two steps right along the bottom row, two up past the wall, two left, one up onto the ball
    assert round(features[1] * 20) == 7


def test_a_goal_nothing_known_reaches_reads_zeros():
    closed_in = {(i, 5): "wall" for i in range(7)} | {(2, 6): "wall", (4, 6): "wall"}
    memory = _memory(closed_in | {(3, 3): "red ball"})
    target = memory.matching(ObjectDesc(color="red", type="ball"))
    assert target.any()
    features = routes(memory, [target, np.zeros_like(target)])
    assert not features.any()


def test_the_first_step_is_given_in_the_agents_frame():
    wall = {(i, 5): "wall" for i in range(0, 5)}
    memory = _memory(wall | {(3, 3): "red ball"})
    memory.observe(
        {"image": np.zeros((7, 7, 3), dtype=np.uint8), "direction": 0}, action=1
    )  # turn right, see nothing new
    features = routes(memory, [memory.matching(ObjectDesc(color="red", type="ball"))])[0]
    assert features[AHEAD] == 1.0 and round(features[1] * 20) == 7


def test_the_route_beside_an_object_ends_facing_a_free_cell_next_to_it():
    memory = _memory({(3, 3): "red ball", (3, 4): "wall"})  # the ball's near side is walled off
    spots = drop_spots(memory, memory.matching(ObjectDesc(color="red", type="ball")))
    assert spots.sum() == 3  # left, right and beyond the ball; not the wall
    features = routes(memory, [spots])[0]
    assert features[0] == 1.0 and round(features[1] * 20) == 4  # up, left (or right), up, up onto (2, 3)


LOCKED_ROOM = {(i, 3): "wall" for i in range(7)} | {(3, 3): "locked yellow door", (3, 1): "red ball"}


def test_a_locked_door_is_passable_only_with_its_key_in_hand():
    without = _memory(LOCKED_ROOM)
    ball = without.matching(ObjectDesc(color="red", type="ball"))
    assert not routes(without, [ball]).any()
    holding = _memory(LOCKED_ROOM | {(3, 6): "yellow key"})
    features = routes(holding, [holding.matching(ObjectDesc(color="red", type="ball"))])[0]
    assert features[AHEAD] == 1.0 and round(features[1] * 20) == 5  # through the door
    wrong_key = _memory(LOCKED_ROOM | {(3, 6): "blue key"})
    assert not routes(wrong_key, [wrong_key.matching(ObjectDesc(color="red", type="ball"))]).any()


def test_keys_to_locked_doors_are_those_of_a_locked_doors_colour():
    memory = _memory(LOCKED_ROOM | {(1, 6): "yellow key", (5, 5): "blue key"})
    keys = keys_to_locked_doors(memory)
    assert keys.sum() == 1
    features = routes(memory, [keys])[0]
    assert features[LEFT] == 1.0 and round(features[1] * 20) == 2  # two cells to the left


BLOCKED_DOORWAY = {(i, 3): "wall" for i in range(7)} | {(3, 3): "yellow door", (3, 4): "green box", (3, 1): "red ball"}


def test_a_route_blocked_only_by_an_object_leads_through_it():
    memory = _memory(BLOCKED_DOORWAY)
    features = routes(memory, [memory.matching(ObjectDesc(color="red", type="ball"))])[0]
    assert features[0] == 1.0 and features[AHEAD] == 1.0
    assert round(features[1] * 20) == 5  # the box, the door, two cells beyond, the ball


def test_a_clear_route_wins_over_a_shorter_one_through_an_object():
    side_door = {(0, 3): "yellow door"}  # a free way round, longer than the one through the box
    memory = _memory(BLOCKED_DOORWAY | side_door)
    features = routes(memory, [memory.matching(ObjectDesc(color="red", type="ball"))])[0]
    assert features[0] == 1.0
    assert round(features[1] * 20) == 11  # three left, three up through the side door, three right, two up


TWO_DOORS = {(1, 2): "red door", (5, 2): "closed blue door"}


def test_an_open_subgoal_targets_shut_doors_not_open_ones():
    memory = _memory(TWO_DOORS)
    blue = memory.matching(ObjectDesc(color="blue", type="door"))
    assert np.array_equal(target_cells(memory, Open(target=ObjectDesc(article="a", type="door"))), blue)


def test_an_open_door_is_a_target_only_when_the_description_names_that_one_door():
    memory = _memory(TWO_DOORS)
    red = memory.matching(ObjectDesc(color="red", type="door"))
    assert red.sum() == 1
    assert np.array_equal(target_cells(memory, Open(target=ObjectDesc(color="red", type="door"))), red)
    assert not target_cells(memory, Open(target=ObjectDesc(article="a", color="red", type="door"))).any()


def test_an_open_door_told_by_its_place_stays_a_target():
    """ "open a grey door on your right" when every such door is open: a place names doors of the
    start room, all of them seen, so exploring finds no other; the door must be shut and opened."""
    memory = _memory(TWO_DOORS)
    placed = [
        ObjectDesc(article="a", color="red", type="door", location=place)
        for place in ("front", "behind", "left", "right")
        if memory.matching(ObjectDesc(color="red", type="door", location=place)).any()
    ]
    assert placed
    for desc in placed:
        assert np.array_equal(target_cells(memory, Open(target=desc)), memory.matching(desc))
