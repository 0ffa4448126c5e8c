"""Every registered MiniGrid, BabyAI and foreman world runs an agent episode without a traceback,
and a user's task in one is judged by its own check, not by the world's reward."""

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from foreman.envs import EnvUnavailableError, make_env, registered_env_ids
from foreman.orchestrator import Agent, AgentConfig
from foreman.planner import LLMPlanner
from foreman.skills import SkillLibrary

SHIPPED = SkillLibrary()


def fake_planner(*responses):
    return LLMPlanner(FakeListChatModel(responses=list(responses)), max_retries=0)


def test_every_registered_world_runs_an_episode_without_a_traceback(tiny_library):
    unavailable, ended = [], {}
    for env_id in registered_env_ids():
        agent = Agent(
            fake_planner("go_to(the door)", "go_to(a key)", "go_to(the ball)"),
            tiny_library,
            AgentConfig(subgoal_steps=6, max_replans=2),
        )
        try:
            result = agent.run(make_env(env_id), seed=1)
        except EnvUnavailableError:  # made on reset, where a missing dependency shows
            unavailable.append(env_id)
            continue
        ended[env_id] = result.end_reason
        assert result.steps <= 18 and result.llm_calls <= 3
    assert all(i.startswith("MiniGrid-WFC-") for i in unavailable)
    assert len(ended) > 150 and "MiniGrid-DoorKey-5x5-v0" in ended and "MiniGrid-LavaGapS5-v0" in ended


def test_a_task_other_than_the_mission_succeeds_by_its_own_check_and_the_mission_is_recorded_apart(tiny_library):
    env = make_env("BabyAI-GoToLocal-v0")
    mission = env.reset(seed=1)[0]["mission"]
    assert mission == "go to the purple box"
    agent = Agent(fake_planner("go_to(the red key)"), tiny_library, AgentConfig(subgoal_steps=40))
    result = agent.run(env, goal="go to the red key", seed=1)
    assert result.success and result.check == "verifier" and result.end_reason == "success"
    assert not result.mission_done and result.reward == 0.0


def test_a_session_keeps_the_world_and_judges_each_task_by_its_own_check(tmp_path):
    from foreman.traces import TraceWriter, read_trace
    from foreman.traces.file import episodes
    from foreman.traces.replay import replay, session_of

    agent = Agent(fake_planner("go_to(the red key)", "go_to(the purple box)"), SHIPPED, AgentConfig(subgoal_steps=40))
    with TraceWriter(tmp_path / "t.jsonl") as trace:
        session = agent.session(make_env("BabyAI-GoToLocal-v0"), seed=1, trace=trace)
        first, second = session.do("go to the red key"), session.do("go to the purple box")
    assert first.success and first.check == "verifier" and first.task == 0
    assert second.task == 1 and second.success and second.check == "env" and second.mission_done
    grouped = episodes(read_trace(tmp_path / "t.jsonl").events)
    assert sorted(grouped) == [0, 1]
    assert replay(grouped[1], before=session_of(grouped, 1)).matches
    assert not replay(grouped[1]).matches  # from a fresh world the second task's actions do not fit
    from foreman.traces.summary import summary

    told = summary(read_trace(tmp_path / "t.jsonl").events)
    assert told["by_place_in_session"] == {0: {"tasks": 1, "done": 1}, 1: {"tasks": 1, "done": 1}}
    assert told["checks"] == {"env": 1, "verifier": 1, "plan": 0} and told["mission_done"] == 1


@pytest.mark.parametrize("verdict", ["failure", "success"])
def test_the_world_judging_its_own_mission_ends_no_task_of_the_user(verdict):
    """BabyAI ends an episode to judge its mission (a mission done past the world's step limit
    is rewarded below zero); a user's tasks are not its mission."""
    agent = Agent(fake_planner("go_to(the red key)", "go_to(the grey ball)"), SHIPPED, AgentConfig(subgoal_steps=40))
    env = make_env("BabyAI-GoToLocal-v0")
    session = agent.session(env, seed=1)
    env.unwrapped.instrs.verify = lambda action: verdict  # judged at every step
    env.unwrapped.max_steps = 1  # and done late: a negative reward
    first, second = session.do("go to the red key"), session.do("go to the grey ball")
    assert first.success and first.check == "verifier" and first.mission_done == (verdict == "success")
    assert second.success and second.check == "verifier" and session.ended is None


@pytest.mark.parametrize("goal", ["head over to the red key", "go to the red key"])
def test_a_task_that_is_not_done_is_never_reported_done(tiny_library, goal):
    agent = Agent(
        fake_planner("go_to(the grey ball)", "go_to(the grey ball)"),
        tiny_library,
        AgentConfig(subgoal_steps=3, max_replans=1),
    )
    result = agent.run(make_env("BabyAI-GoToLocal-v0"), goal=goal, seed=1)
    assert not result.success and result.check is None


def test_a_task_verifier_sees_a_put_done_as_the_world_does():
    """BabyAI's verifiers learn where moved objects are only when told after each drop."""
    from foreman.envs import current_pose, parse_mission
    from foreman.envs.tasks import TaskVerifier
    from tests.conftest import bot_actions

    for seed in range(5):
        env = make_env("BabyAI-PutNextLocal-v0")
        mission = env.reset(seed=seed)[0]["mission"]
        verifier = TaskVerifier(parse_mission(mission), env, current_pose(env))
        steps = [(action, result) for action, result in bot_actions(env) if verifier.step(action) or True]
        assert steps[-1][1][1] > 0 and verifier.status == "success", (seed, mission)
