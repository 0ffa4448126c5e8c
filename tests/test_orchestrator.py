"""The agent loop with LangChain fake chat models and small skills trained in the test."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from minigrid.core.mission import MissionSpace
from minigrid.core.roomgrid import RoomGrid
from minigrid.core.world_object import Key

from foreman.envs import AgentMemory, GoTo, ObjectDesc, PutNext, make_env
from foreman.orchestrator import Agent, AgentConfig, _locked_away, describe_result
from foreman.planner import LLMPlanner, PrivilegedReferencePlanner, skill_specs


@pytest.fixture(scope="module")
def library(tiny_library):
    return tiny_library


def fake_planner(*responses):
    return LLMPlanner(FakeListChatModel(responses=list(responses)), max_retries=2)


def test_unparseable_plans_end_the_episode_as_a_planning_failure(library):
    agent = Agent(fake_planner("dance()", "dance()", "dance()"), library)
    result = agent.run(make_env("BabyAI-GoToLocal-v0"), seed=1)
    assert result.end_reason == "planning failed" and not result.success
    assert result.llm_calls == 3 and result.steps == 0 and result.subgoals == []


def test_plans_only_call_skills_in_the_library(library):
    agent = Agent(fake_planner("drop()", "pick_up(the ball)", "go_to(the ball)"), library)
    result = agent.run(make_env("BabyAI-GoToLocal-v0"), seed=1)
    assert "there is no skill 'drop'" in result.plans[0].attempts[0].error
    assert "there is no skill 'pick_up'" in result.plans[0].attempts[1].error
    assert result.subgoals[0].skill == "go_to"


UNREACHABLE = "go_to(the grey door)"  # GoToLocal has a single room: no door


def test_a_stalled_subgoal_is_fed_back_and_replanned_with_half_the_steps_until_the_budget(library):
    agent = Agent(fake_planner(*[UNREACHABLE] * 10), library, AgentConfig(subgoal_steps=8, max_replans=3))
    result = agent.run(make_env("BabyAI-GoToLocal-v0"), seed=1)
    assert result.end_reason == "replan budget" and len(result.plans) == 4 and result.replans == 3
    assert [(r.status, r.steps) for r in result.subgoals] == [("ran out of steps", n) for n in (8, 4, 2, 1)]
    assert result.plans[1].reason == "replan" and result.steps == 15


def test_a_subgoal_that_ran_out_once_does_not_shorten_another(library):
    other = "go_to(the blue door)"  # also absent from GoToLocal's room
    agent = Agent(fake_planner(UNREACHABLE, other, UNREACHABLE), library, AgentConfig(subgoal_steps=6, max_replans=2))
    result = agent.run(make_env("BabyAI-GoToLocal-v0"), seed=1)
    assert [r.steps for r in result.subgoals] == [6, 6, 3]


def test_the_llm_call_budget_is_kept(library):
    agent = Agent(
        fake_planner(*[UNREACHABLE] * 10), library, AgentConfig(subgoal_steps=2, max_replans=9, max_llm_calls=4)
    )
    result = agent.run(make_env("BabyAI-GoToLocal-v0"), seed=1)
    assert result.end_reason == "llm call budget" and result.llm_calls == 4


@pytest.mark.parametrize("seed", range(5))
def test_skills_run_within_their_budgets_and_steps_add_up(library, seed):
    env = make_env("BabyAI-GoToLocal-v0")
    agent = Agent(PrivilegedReferencePlanner(env), library, AgentConfig(subgoal_steps=10, max_replans=1))
    result = agent.run(env, seed=seed)
    assert result.steps == sum(r.steps for r in result.subgoals)
    assert all(r.steps <= 10 and len(r.actions) == r.steps for r in result.subgoals)
    assert result.success == (result.end_reason == "success") == (result.reward > 0)
    if not result.success:
        assert result.subgoals[-1].status == "ran out of steps" or result.end_reason != "success"
    assert result.mission in describe_result(result)


class RaisingPlanner:
    def plan(self, request):
        raise RuntimeError("the model server went away")


def test_a_planner_that_raises_ends_the_episode_with_a_recorded_reason(library):
    result = Agent(RaisingPlanner(), library).run(make_env("BabyAI-GoToLocal-v0"), seed=1)
    assert result.end_reason == "planning failed" and not result.success
    assert "RuntimeError: the model server went away" in result.plans[0].failure


def test_a_skill_that_raises_fails_its_subgoal_and_the_agent_replans(library):
    env = make_env("BabyAI-GoToLocal-v0")
    agent = Agent(PrivilegedReferencePlanner(env), library, AgentConfig(max_replans=1))

    def broken(memory, subgoal):
        raise ValueError("NaN in the policy")

    agent.skills["go_to"].act = broken
    result = agent.run(env, seed=1)
    assert result.end_reason == "replan budget" and len(result.subgoals) == 2
    assert all(r.status == "failed" and "ValueError: NaN in the policy" in r.reason for r in result.subgoals)


def test_a_plan_step_no_skill_executes_is_a_recorded_planning_failure(library):
    env = make_env("BabyAI-PickupLoc-v0")  # the library has go_to only; the reference plans pick_up
    result = Agent(PrivilegedReferencePlanner(env), library).run(env, seed=1)
    assert result.end_reason == "planning failed" and result.plans[0].failure == "no skill executes pick_up"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(goal=st.text(max_size=600), reply=st.text(max_size=200))
def test_any_goal_and_any_model_reply_end_the_episode_with_a_recorded_reason(library, goal, reply):
    planner = LLMPlanner(FakeListChatModel(responses=[reply or " "] * 20), max_retries=1)
    agent = Agent(planner, library, AgentConfig(subgoal_steps=5, max_replans=1))
    result = agent.run(make_env("BabyAI-GoToLocal-v0"), goal=goal, seed=3)
    assert result.end_reason in (
        "refused",
        "task failed",
        "success",
        "env failure",
        "env step limit",
        "planning failed",
        "replan budget",
        "llm call budget",
    )
    assert result.llm_calls <= 4 and result.steps <= 10


def test_the_default_step_budget_follows_the_skill_card(library):
    from foreman.orchestrator import _step_budget

    skill = library.load("go_to")
    mean = skill.card.evaluation.mean_steps
    assert _step_budget(skill, None) == max(150, round(2 * mean)) and _step_budget(skill, 7) == 7
    assert _step_budget(skill, None, ran_out=1) == max(150, round(2 * mean)) // 2


def _in_front_of_the_locked_door(env) -> None:
    """Test double's move: put the agent on the cell before the locked door on its side, facing it."""
    from minigrid.core.constants import DIR_TO_VEC

    base = env.unwrapped
    door = next(
        (x, y)
        for x in range(base.grid.width)
        for y in range(base.grid.height)
        if (c := base.grid.get(x, y)) is not None and c.type == "door" and c.is_locked
    )
    here = base.room_from_pos(*base.agent_pos)
    for direction, vec in enumerate(DIR_TO_VEC):
        cell = (door[0] - vec[0], door[1] - vec[1])
        if base.grid.get(*cell) is None and base.room_from_pos(*cell) is here:  # the side the agent is on
            base.agent_pos, base.agent_dir = cell, direction
            return


def test_toggling_a_locked_door_without_its_key_stops_early_and_says_why(library):
    env = make_env("Foreman-MixedTrainLocal-v0", task="open")
    agent = Agent(fake_planner("go_to(a purple ball)"), library, AgentConfig(stall_steps=4, max_replans=0))
    calls = []

    def toggle(memory, subgoal):
        if not calls:
            _in_front_of_the_locked_door(env)
        calls.append(1)
        return 5  # toggle, toggle, ...: nothing changes without the key

    agent.skills["go_to"].act = toggle
    result = agent.run(env, seed=1)
    record = result.subgoals[0]
    assert record.status == "ran out of steps" and record.steps == 5  # the first step changed the view
    assert "is locked" in record.reason and "key is needed" in record.reason


def _open_skill_stand_in(agent, act) -> None:
    agent.skills["open"] = agent.skills["go_to"]
    agent.skills["open"].act = act
    agent.skills["open"].card = agent.skills["open"].card.model_copy(update={"subgoal": "open"})


def test_opening_a_door_seen_locked_without_its_key_stops_and_names_the_key(library):
    env = make_env("Foreman-MixedTrainLocal-v0", task="open")
    agent = Agent(PrivilegedReferencePlanner(env), library, AgentConfig(max_replans=0, subgoal_steps=30))
    calls = []

    def look_at_the_door(memory, subgoal):
        if not calls:
            _in_front_of_the_locked_door(env)
        calls.append(1)
        return 0  # turn left: the view changes every step, so the stall rule never fires

    _open_skill_stand_in(agent, look_at_the_door)
    result = agent.run(env, seed=1)
    door = next(c for c in env.unwrapped.grid.grid if c is not None and c.type == "door")
    record = result.subgoals[0]
    assert record.status == "failed" and record.steps == len(calls) <= 2
    assert record.reason == f"the {door.color} door is locked; a {door.color} key is needed"


def test_opening_a_locked_door_with_its_key_in_hand_goes_on(library):
    from minigrid.core.world_object import Key

    env = make_env("Foreman-MixedTrainLocal-v0", task="open")
    agent = Agent(PrivilegedReferencePlanner(env), library, AgentConfig(max_replans=0, subgoal_steps=30))
    door = None

    def look_at_the_door_holding_its_key(memory, subgoal):
        nonlocal door
        if door is None:
            door = next(c for c in env.unwrapped.grid.grid if c is not None and c.type == "door")
            env.unwrapped.carrying = Key(door.color)
            _in_front_of_the_locked_door(env)
        return 0

    _open_skill_stand_in(agent, look_at_the_door_holding_its_key)
    result = agent.run(env, seed=1)
    assert result.subgoals[0].status == "ran out of steps" and result.subgoals[0].steps == 30


def test_actions_that_change_nothing_elsewhere_are_left_to_the_step_budget(library):
    env = make_env("Foreman-MixedTrainLocal-v0", task="open")
    agent = Agent(PrivilegedReferencePlanner(env), library, AgentConfig(stall_steps=4, max_replans=0, subgoal_steps=30))
    _open_skill_stand_in(agent, lambda memory, subgoal: 6)  # "done": changes nothing, anywhere
    result = agent.run(env, seed=1)
    assert result.subgoals[0].status == "ran out of steps" and result.subgoals[0].steps == 30


def test_a_pick_up_repeated_right_after_it_succeeded_is_not_run_again(library):
    env = make_env("BabyAI-PickupLoc-v0")
    mission = env.reset(seed=3)[0]["mission"]
    obj = next(
        c
        for c in env.unwrapped.grid.grid
        if c is not None and c.type in ("key", "ball", "box") and c.type not in mission  # not the env's goal
    )
    twice = f"pick_up(a {obj.color} {obj.type})\npick_up(a {obj.color} {obj.type})"
    agent = Agent(fake_planner(twice), library, AgentConfig(max_replans=0))
    agent.skills["pick_up"] = agent.skills["go_to"]
    card = agent.skills["pick_up"].card.model_copy(update={"subgoal": "pick_up", "name": "pick_up"})
    agent.skills["pick_up"].card = card
    agent.specs = skill_specs([card.model_dump()])  # the planner may call it
    calls = []

    def lift_it(memory, subgoal):
        base = env.unwrapped
        target = next(c for c in base.grid.grid if c is not None and (c.color, c.type) == (obj.color, obj.type))
        base.grid.set(*target.cur_pos, None)  # test double's move: the object right in front
        base.grid.set(*base.front_pos, target)
        target.cur_pos = base.front_pos
        calls.append(1)
        return 3  # pick up

    agent.skills["pick_up"].act = lift_it
    result = agent.run(env, seed=3)
    first, second = result.subgoals
    assert (first.status, first.steps) == ("succeeded", 1) and len(calls) == 1
    assert (second.status, second.steps) == ("succeeded", 0) and "already done" in second.reason


class AffordanceReadingPlanner:
    """Plans as the reference does and reads the request's affordance of its first step."""

    def __init__(self, env):
        self.reference, self.values = PrivilegedReferencePlanner(env), []

    def plan(self, request):
        result = self.reference.plan(request)
        self.values.append((result.plan[0], request.affordance(result.plan[0])))
        return result


def test_planners_get_the_skills_fitted_critics_as_affordances(library):
    from foreman.envs import AgentMemory

    env = make_env("BabyAI-GoToLocal-v0")
    planner = AffordanceReadingPlanner(env)
    agent = Agent(planner, library)
    skill = agent.skills["go_to"]
    assert skill.card.training.critic is not None  # the test library's go_to was fitted in training
    agent.run(env, seed=2)
    subgoal, value = planner.values[0]
    memory = AgentMemory()
    memory.observe(make_env("BabyAI-GoToLocal-v0").reset(seed=2)[0])
    assert value == skill.value(memory, subgoal)

    unfitted = skill.card.model_copy(update={"training": skill.card.training.model_copy(update={"critic": None})})
    skill.card = unfitted
    try:
        agent.run(env, seed=2)
    finally:
        skill.card = library.load("go_to").card
    assert planner.values[-1][1] is None


class _LockedNeighbour(RoomGrid):
    """Two 3x3 rooms; the agent in the west one, facing east; the door between them is yellow and
    locked (unless ``locked`` is False); a blue key lies in the east room."""

    def __init__(self, locked: bool = True):
        self.locked = locked
        super().__init__(
            mission_space=MissionSpace(mission_func=lambda: "go to the blue key"),
            room_size=5,
            num_rows=1,
            num_cols=2,
            max_steps=50,
        )

    def _gen_grid(self, width, height):
        super()._gen_grid(width, height)
        self.add_door(0, 0, 0, color="yellow", locked=self.locked)
        self.put_obj(Key("blue"), 6, 2)
        self.agent_pos, self.agent_dir = (1, 2), 0
        self.mission = "go to the blue key"


def _memory_of(env, carrying=None) -> AgentMemory:
    """The agent's memory after it looked all round (with ``carrying`` put in its hands)."""
    obs, _ = env.reset(seed=0)
    env.carrying = carrying
    memory = AgentMemory()
    memory.observe(env.gen_obs())
    for _ in range(4):
        obs, *_ = env.step(env.actions.left)
        memory.observe(obs, env.actions.left)
    return memory


def test_a_target_beyond_every_known_route_names_the_locked_door_to_open():
    """Nothing fits the subgoal in what the agent knows and only a locked door leads on: the
    subgoal stops and names the key; not so with that key in hand, through a shut door that is
    not locked, or with the target in sight."""
    blue_key = GoTo(target=ObjectDesc(color="blue", type="key"))
    env = _LockedNeighbour()
    assert _locked_away(_memory_of(env), blue_key) == "yellow"
    assert _locked_away(_memory_of(env), PutNext(target=ObjectDesc(type="ball"), next_to=ObjectDesc(type="door")))
    assert _locked_away(_memory_of(env, carrying=Key("yellow")), blue_key) is None
    assert _locked_away(_memory_of(env, carrying=Key("red")), blue_key) == "yellow"
    assert _locked_away(_memory_of(_LockedNeighbour(locked=False)), blue_key) is None
    assert _locked_away(_memory_of(env), GoTo(target=ObjectDesc(color="yellow", type="door"))) is None


def test_a_subgoal_barred_by_a_locked_door_stops_after_its_grace_steps(library):
    env = _LockedNeighbour()
    agent = Agent(fake_planner("go_to(the blue key)"), library, AgentConfig(max_replans=0, locked_away_steps=10))
    agent.skills["go_to"].act = lambda memory, subgoal: 0  # turn left: sees its room, then nothing new
    result = agent.run(env, goal="go to the blue key", seed=0)
    record = result.subgoals[0]
    assert record.status == "failed" and record.reason == "the yellow door is locked; a yellow key is needed"
    assert 10 < record.steps <= 10 + 4  # the grace steps, after the turns that showed the whole room
