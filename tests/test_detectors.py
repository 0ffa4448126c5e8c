"""Success detectors against the env's own verifier, with the BabyAI bot as the test oracle."""

import pytest
from minigrid.core.actions import Actions

from foreman.envs import (
    Drop,
    ObjectDesc,
    PutNext,
    SubgoalDetector,
    current_pose,
    make_env,
    parse_mission,
)
from tests.conftest import bot_actions

SEEDS = range(40)


def agreement(env, detector, actions):
    """Steps where the detector said success and where the env said its mission succeeded."""
    detector_success, env_success = [], []
    for step, (action, (_, reward, terminated, _, _)) in enumerate(actions):
        if detector.step(action) == "success" and not detector_success:
            detector_success.append(step)
        if terminated and reward > 0:
            env_success.append(step)
    return detector_success, env_success


@pytest.mark.parametrize("level", ["GoToLocal", "GoToDoor", "PickupLoc", "Open", "OpenDoor", "PutNextLocal"])
def test_detector_fires_exactly_when_the_env_mission_succeeds(level):
    env = make_env(f"BabyAI-{level}-v0")
    for seed in SEEDS:
        obs, _ = env.reset(seed=seed)
        detector = SubgoalDetector(parse_mission(obs["mission"]), env)
        detector_success, env_success = agreement(env, detector, bot_actions(env))
        assert len(env_success) == 1, (seed, obs["mission"])
        assert detector_success == env_success, (seed, obs["mission"])


@pytest.mark.parametrize("level", ["PickupLoc", "OpenDoor"])
def test_locations_resolve_against_the_anchor_pose(level):
    """A check started after the agent turned still reads "on your left" from the start pose."""
    env = make_env(f"BabyAI-{level}-v0")
    wrong_without_anchor = 0
    for seed in SEEDS:
        obs, _ = env.reset(seed=seed)
        start = current_pose(env)
        for _ in range(2):
            env.step(Actions.left)  # the env's verifier sees these turns too
        subgoal = parse_mission(obs["mission"])
        anchored = SubgoalDetector(subgoal, env, anchor=start)
        unanchored = SubgoalDetector(subgoal, env)
        detector_success, env_success = [], []
        for step, (action, (_, reward, terminated, _, _)) in enumerate(bot_actions(env)):
            if anchored.step(action) == "success" and not detector_success:
                detector_success.append(step)
            unanchored.step(action)
            if terminated and reward > 0:
                env_success.append(step)
        assert detector_success == env_success, (seed, obs["mission"])
        wrong_without_anchor += unanchored.status != "success"
    assert wrong_without_anchor > 0  # on these levels the anchor matters


def test_put_next_counts_an_object_already_in_hand():
    """A put-next check that starts right after the pickup still sees the drop succeed."""
    env = make_env("BabyAI-PutNextLocal-v0")
    for seed in SEEDS:
        obs, _ = env.reset(seed=seed)
        start = current_pose(env)
        detector = None
        env_success, detector_success = [], []
        for step, (action, (_, reward, terminated, _, _)) in enumerate(bot_actions(env)):
            if detector is not None and detector.step(action) == "success":
                detector_success.append(step)
            if detector is None and env.unwrapped.carrying is not None:
                detector = SubgoalDetector(parse_mission(obs["mission"]), env, anchor=start)
            if terminated and reward > 0:
                env_success.append(step)
        assert detector_success[:1] == env_success, (seed, obs["mission"])


def _face_empty_cell(env):
    base = env.unwrapped
    while base.grid.get(*base.front_pos) is not None:
        env.step(Actions.left)


@pytest.mark.parametrize("seed", range(10))
def test_drop_of_the_carried_object_succeeds_at_that_step(seed):
    env = make_env("Foreman-DropLocal-v0", seed=seed)
    env.reset()
    carried = env.unwrapped.carrying
    detector = SubgoalDetector(Drop(target=ObjectDesc(color=carried.color, type=carried.type)), env)
    _face_empty_cell(env)
    for action in (Actions.forward, Actions.pickup, Actions.toggle):
        env.step(action)
        assert detector.step(action) == "continue"
    _face_empty_cell(env)
    env.step(Actions.drop)
    assert detector.step(Actions.drop) == "success"


@pytest.mark.parametrize("seed", range(10))
def test_a_wrong_drop_is_a_failure(seed):
    env = make_env("Foreman-DropLocal-v0", seed=seed)
    env.reset()
    carried = env.unwrapped.carrying
    other_color = "red" if carried.color != "red" else "blue"
    detector = SubgoalDetector(Drop(target=ObjectDesc(color=other_color, type=carried.type)), env)
    _face_empty_cell(env)
    env.step(Actions.drop)
    assert detector.step(Actions.drop) == "failure"
    env.step(Actions.pickup)
    assert detector.step(Actions.pickup) == "failure"  # a failure stays a failure


def test_dropping_the_moved_object_elsewhere_does_not_end_put_next():
    """Setting the object down (to clear a path, say) leaves the put-next check running."""
    env = make_env("BabyAI-PutNextLocal-v0", seed=3)
    obs, _ = env.reset()
    detector = SubgoalDetector(parse_mission(obs["mission"]), env)
    actions = bot_actions(env)
    for action, _ in actions:
        assert detector.step(action) == "continue"
        if env.unwrapped.carrying is not None:
            break
    assert isinstance(detector.subgoal, PutNext)
    env.step(Actions.drop)  # back where it lay, which is not next to the fixed object
    assert env.unwrapped.carrying is None
    assert detector.step(Actions.drop) == "continue"
