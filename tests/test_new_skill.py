"""A user's path to a skill of a new kind, with no change to foreman: make its folder, declare
the kind, train it by reinforcement from its check, plan and run with it."""

import json

from gymnasium.envs.registration import registry
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from foreman.bench.skills import SkillBenchConfig
from foreman.bench.skills import run as bench_skills
from foreman.cli import main
from foreman.envs import Call, make_env
from foreman.orchestrator import Agent, AgentConfig
from foreman.planner import LLMPlanner, PlanRequest, skill_specs
from foreman.skills import SkillLibrary
from foreman.skills.library import BUILT_IN_LIBRARY

CLOSE = {
    "name": "close",
    "says": "close {door}",
    "arguments": [{"name": "door", "type": "door", "description": "the door to shut"}],
    "check": {"facing": "door", "state": "closed"},
}


def test_a_new_kind_of_skill_is_made_trained_planned_and_run_from_its_folder(tmp_path, capsys):
    library = tmp_path / "my-skills"
    assert main(["skills", "new", "close", "--library", str(library)]) == 0
    declared = library / "close" / "skill.json"
    assert f"foreman train close --library {library}" in capsys.readouterr().out
    _, problems = SkillLibrary(library).scan()
    assert problems == [f"{declared}: not trained yet (run `foreman train close --library {library}`)"]

    text = json.loads(declared.read_text())
    text |= {"description": "Walk to a matching open door and shut it.", "kind": CLOSE}
    text |= {"level": {"room_size": 5, "num_rows": 1, "num_cols": 2, "num_dists": 1, "open_door_prob": 1.0}}
    declared.write_text(json.dumps(text))
    tiny = ["--ppo-frames", "64", "--ppo-envs", "2", "--workers", "1", "--hidden", "16", "--critic-episodes", "4"]
    assert (
        main(["train", "close", "--library", str(library), *tiny, "--critic-episodes", "4", "--eval-episodes", "4"])
        == 0
    )
    card = SkillLibrary(library).load("close").card
    assert card.kind is not None and card.kind.says == "close {door}" and card.training.demos == 0
    assert card.training.frames >= 64 and card.evaluation is not None and card.evaluation.episodes == 4

    del registry[card.training.env_id]  # as in a new process: the card brings its level back
    assert main(["skills", "eval", "close", "--library", str(library), "--episodes", "2", "--workers", "1"]) == 0
    assert "2 episodes of Foreman-Kind-close-v0" in capsys.readouterr().out
    del registry[card.training.env_id]
    rows = bench_skills(SkillBenchConfig(episodes=2, workers=1, skill="close", out=None), SkillLibrary(library))
    assert [(r["skill"], r["env_id"], r["episodes"]) for r in rows] == [("close", "Foreman-Kind-close-v0", 2)]

    skills = SkillLibrary(BUILT_IN_LIBRARY, library)
    names = ["close", "go_to", "move_aside", "open", "pick_up", "put_down", "put_next", "reach"]
    assert [c.name for c in skills.cards()] == names  # the user's close replaces the shipped one
    assert skills.load("close").card.training.demos == 0
    specs = skill_specs([c.model_dump() for c in skills.cards()])
    planner = LLMPlanner(FakeListChatModel(responses=["close(the red door)"]), max_retries=0)
    plan = planner.plan(PlanRequest(goal="shut the red door", skills=specs)).plan
    assert plan == [Call(kind="close", arguments=(("door", plan[0].argument("door")),), text="close the red door")]

    agent = Agent(
        LLMPlanner(FakeListChatModel(responses=["close(a door)"]), max_retries=0),
        skills,
        AgentConfig(subgoal_steps=20, max_replans=0),
    )
    result = agent.run(make_env(card.training.env_id), goal="shut a door", seed=3)
    assert result.subgoals[0].skill == "close" and result.subgoals[0].steps > 0
    assert result.success == (result.check == "plan")  # done only where the kind's check saw it


def test_a_new_kind_can_start_from_a_skill_of_another_kind_and_keeps_its_history(tmp_path):
    library = tmp_path / "my-skills"
    assert main(["skills", "new", "shut", "--library", str(library)]) == 0
    declared = library / "shut" / "skill.json"
    text = json.loads(declared.read_text())
    text |= {"description": "Walk to a matching open door and shut it.", "kind": CLOSE | {"name": "shut"}}
    text |= {"level": {"room_size": 5, "num_rows": 1, "num_cols": 2, "num_dists": 1, "open_door_prob": 1.0}}
    declared.write_text(json.dumps(text))
    tiny = ["--ppo-frames", "128", "--ppo-envs", "2", "--workers", "1", "--critic-episodes", "0"]
    assert main(["train", "shut", "--init", "open", "--library", str(library), *tiny, "--eval-episodes", "3"]) == 0
    card = SkillLibrary(library).load("shut").card
    opener = SkillLibrary(BUILT_IN_LIBRARY).load("open").card
    assert card.subgoal == "shut" and card.kind is not None and card.description.startswith("Walk to a matching open")
    assert card.training.env_id == "Foreman-Kind-shut-v0" and card.training.init.startswith("open (")
    assert card.training.demos == opener.training.demos and card.training.rl_frames == 128
    assert card.training.success_before_rl is not None and card.evaluation.episodes == 3
    assert main(["train", "go_to", "--init", "open", "--library", str(library), *tiny]) == 2


def test_a_goal_in_the_mission_language_is_not_offered_skills_of_declared_kinds():
    specs = skill_specs([c.model_dump() for c in SkillLibrary(BUILT_IN_LIBRARY).cards()])
    planner = LLMPlanner(FakeListChatModel(responses=["put_down()"]), max_retries=0)
    mission = planner.listed_skills(
        PlanRequest(goal="pick up the red ball, then put the red ball next to a key", skills=specs)
    )
    assert [s.name for s in mission] == ["go_to", "open", "pick_up", "put_next"]
    free = planner.listed_skills(PlanRequest(goal="shut the red door", skills=specs))
    assert {"close", "put_down", "move_aside"} <= {s.name for s in free}
    result = planner.plan(PlanRequest(goal="pick up the red ball", skills=specs))
    assert result.plan is None and "put_down" in result.failure  # not a skill this goal is offered
