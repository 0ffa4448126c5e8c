"""Subgoal kinds declared as data: their validation, and their checks read on a real world."""

import numpy as np
import pytest
from minigrid.core.actions import Actions
from minigrid.core.world_object import Ball, Door
from pydantic import TypeAdapter, ValidationError

from foreman.envs import (
    Call,
    GoTo,
    KindError,
    KindSpec,
    MissionParseError,
    Subgoal,
    detector_for,
    make_env,
    parse_mission,
    parse_object,
)

CLOSE = {
    "name": "close",
    "says": "close {target}",
    "arguments": [{"name": "target", "type": "door"}],
    "check": {"facing": "target", "state": "closed"},
}
PUT_DOWN = {"name": "put_down", "says": "put down what you carry", "check": {"carrying": None}}
NUDGE = {
    "name": "nudge",
    "says": "move {target} out of the way",
    "arguments": [{"name": "target", "type": "movable"}],
    "check": {"all": [{"moved": "target"}, {"carrying": None}]},
}


def _world_facing_a_door(open_door: bool):
    """A one-room world with a door in its wall and the agent in front of it, facing it."""
    env = make_env("MiniGrid-Empty-6x6-v0")
    env.reset(seed=0)
    base = env.unwrapped
    door = Door("red", is_open=open_door)
    base.grid.set(3, 0, door)
    door.init_pos = door.cur_pos = np.array((3, 0))
    base.agent_pos, base.agent_dir = np.array((3, 1)), 3  # facing north, the door ahead
    return env, base


def test_a_declared_kind_makes_calls_that_read_as_it_says_and_survive_a_trace():
    close = KindSpec.model_validate(CLOSE)
    call = close.call(parse_object("the red door"))
    assert call.to_text() == "close the red door" and call.argument("target").color == "red"
    assert TypeAdapter(Subgoal).validate_json(TypeAdapter(Subgoal).dump_json(call)) == call
    with pytest.raises(KindError, match="is not a door"):
        close.call(parse_object("the red ball"))
    with pytest.raises(ValidationError, match="kind of the mission language"):
        Call(kind="go_to", text="go to it")


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"check": {"facing": "other"}}, "this kind does not declare"),
        ({"says": "close it"}, "place each argument"),
        ({"check": {"facing": "target", "carrying": "target"}}, "exactly one"),
        ({"check": {"state": "open"}}, "exactly one"),
        ({"check": {"entry": "not an entry"}}, "package.module:function"),
    ],
)
def test_a_declaration_that_cannot_work_is_refused_saying_why(change, complaint):
    with pytest.raises(ValidationError, match=complaint):
        KindSpec.model_validate(CLOSE | change)


def test_a_check_whose_entry_does_not_import_is_an_error_naming_it():
    kind = KindSpec.model_validate(CLOSE | {"check": {"entry": "no_such_module:done"}})
    with pytest.raises(KindError, match="no_such_module:done"):
        kind.importable()


def test_closing_succeeds_when_the_faced_door_is_shut_by_a_toggle():
    env, base = _world_facing_a_door(open_door=True)
    close = KindSpec.model_validate(CLOSE)
    detector = detector_for(close.call(parse_object("the red door")), env, kind=close)
    env.step(Actions.left)
    assert detector.step(Actions.left) == "continue"
    env.step(Actions.right)
    assert detector.step(Actions.right) == "continue"  # facing the door, still open
    env.step(Actions.toggle)
    assert detector.step(Actions.toggle) == "success" and not base.grid.get(3, 0).is_open


def test_putting_down_and_moving_an_object_out_of_the_way():
    env, base = _world_facing_a_door(open_door=False)
    ball = Ball("blue")
    base.grid.set(2, 1, ball)
    ball.init_pos = ball.cur_pos = np.array((2, 1))
    base.agent_dir = 2  # facing west, the ball ahead
    nudge = KindSpec.model_validate(NUDGE)
    moved = detector_for(nudge.call(parse_object("the blue ball")), env, kind=nudge)
    env.step(Actions.pickup)
    assert base.carrying is ball and moved.step(Actions.pickup) == "continue"  # moved, but carried
    put_down = KindSpec.model_validate(PUT_DOWN)
    dropped = detector_for(put_down.call(), env, kind=put_down)
    env.step(Actions.right)  # facing north: the shut door, where nothing can be dropped
    env.step(Actions.right)  # facing east: free floor
    assert dropped.step(Actions.right) == "continue"
    env.step(Actions.drop)
    assert dropped.step(Actions.drop) == "success" and moved.step(Actions.drop) == "success"


def test_a_call_without_its_declaration_has_no_detector():
    env, _ = _world_facing_a_door(open_door=True)
    call = KindSpec.model_validate(CLOSE).call(parse_object("the red door"))
    with pytest.raises(KindError, match="no declaration of the kind 'close'"):
        detector_for(call, env)


REACH = {
    "name": "reach",
    "says": "go to {goal}",
    "arguments": [{"name": "goal", "type": "goal"}],
    "check": {"on": "goal"},
}


def test_a_goal_square_is_an_argument_of_a_declared_kind_only():
    goal = parse_object("the green goal square")
    assert (goal.type, goal.color, goal.to_text()) == ("goal", "green", "the green goal")
    assert KindSpec.model_validate(REACH).call(parse_object("the goal")).to_text() == "go to the goal"
    with pytest.raises(KindError, match="is not a door"):
        KindSpec.model_validate(CLOSE).call(goal)
    with pytest.raises(MissionParseError):
        parse_mission("go to the goal")  # the mission language is BabyAI's: no squares
    with pytest.raises(ValidationError, match="not goal squares"):
        GoTo(target=goal)


def test_standing_on_the_goal_square_is_what_the_on_check_sees():
    env = make_env("MiniGrid-Empty-5x5-v0")
    env.reset(seed=0)
    base = env.unwrapped
    base.agent_pos, base.agent_dir = np.array((3, 2)), 1  # facing south, the goal square (3, 3) ahead
    reach = KindSpec.model_validate(REACH)
    detector = detector_for(reach.call(parse_object("the green goal")), env, kind=reach)
    assert detector.step(None) == "continue"  # facing it is not standing on it
    env.step(Actions.forward)
    assert detector.step(Actions.forward) == "success"
    elsewhere = detector_for(reach.call(parse_object("the red goal")), env, kind=reach)
    assert elsewhere.step(None) == "continue"  # no red goal square here
