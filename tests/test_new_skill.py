"""A user's path to a skill of a new kind, with no change to foreman: make its folder, declare
the kind, train it by reinforcement from its check, plan and run with it."""

import json

from gymnasium.envs.registration import registry
from langchain_core.language_models.fake_chat_models import FakeListChatModel

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

    skills = SkillLibrary(BUILT_IN_LIBRARY, library)
    assert [c.name for c in skills.cards()] == ["close", "go_to", "open", "pick_up", "put_next"]
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
