"""The planner bench's scoring, with a fake chat model."""

import shutil

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from foreman.bench.planner import _plan_cases, acceptable_orders
from foreman.envs import parse_mission
from foreman.planner import LLMPlanner, vocabulary_specs
from foreman.skills.library import BUILT_IN_LIBRARY


def test_and_admits_both_orders_and_sequences_admit_one():
    orders = acceptable_orders(parse_mission("go to a ball and open a door, then pick up the key"))
    texts = [[c.to_text() for c in order] for order in orders]
    assert texts == [
        ["go to a ball", "open a door", "pick up the key"],
        ["open a door", "go to a ball", "pick up the key"],
    ]
    assert len(acceptable_orders(parse_mission("open a door after you go to a ball"))) == 1


def test_cases_are_scored_exactly():
    planner = LLMPlanner(FakeListChatModel(responses=["open(a door)\ngo_to(a ball)", "go_to(the ball)"]))
    summary = _plan_cases(
        planner,
        [
            {"goal": "go to a ball and open a door", "means": "go to a ball and open a door"},
            {"goal": "go to a ball", "means": "go to a ball"},
        ],
        vocabulary_specs(),
    )
    assert [r["exact"] for r in summary["per_episode"]] == [True, False]  # "the" is not "a"
    assert summary["exact"] == 0.5 and summary["episodes"] == 2 and summary["failures"] == 0
    assert summary["exact_any_article"] == 1.0  # ... unless articles are set aside


def test_reworded_goals_are_scored_against_their_missions(tmp_path, monkeypatch):
    import json

    from foreman.bench import planner as bench

    goals = tmp_path / "reworded.jsonl"
    rows = [
        {"env_id": "BabyAI-GoToLocal-v0", "seed": 1, "goal": "head for the red box", "mission": "go to a red box"},
        {"env_id": "BabyAI-GoToLocal-v0", "seed": 2, "goal": "grab the key", "mission": "pick up the key"},
    ]
    goals.write_text("".join(json.dumps(r) + "\n" for r in rows))
    fake = LLMPlanner(FakeListChatModel(responses=["go_to(the red box)", "go_to(the key)"]))
    monkeypatch.setattr(bench, "builtin_planner", lambda *args, **kwargs: fake)
    summary = bench.run_paraphrases(bench.PlannerBenchConfig(out=tmp_path), goals)
    assert summary["level"] == "reworded" and summary["episodes"] == 2
    assert [r["means"] for r in summary["per_episode"]] == ["go to a red box", "pick up the key"]
    assert [r["exact_any_article"] for r in summary["per_episode"]] == [True, False]
    written = json.loads((tmp_path / f"planner_reworded_{bench.PlannerBenchConfig().planner_name}.json").read_text())
    assert written["summary"]["exact"] == summary["exact"] and "per_episode" not in written["summary"]
    assert written["command"].startswith("foreman bench planner --level paraphrases --goals ")


def test_goals_that_need_a_library_skill_are_scored_against_their_plans(tmp_path, monkeypatch):
    import json

    from foreman.bench import planner as bench

    library = tmp_path / "lib"
    folder = library / "close"
    folder.mkdir(parents=True)
    card = json.loads((BUILT_IN_LIBRARY / "open" / "card.json").read_text())
    kind = {"name": "close", "says": "close {door}", "arguments": [{"name": "door", "type": "door"}]}
    card |= {"name": "close", "subgoal": "close", "kind": kind | {"check": {"facing": "door", "state": "closed"}}}
    (folder / "card.json").write_text(json.dumps(card))
    shutil.copy(BUILT_IN_LIBRARY / "open" / "model.safetensors", folder / "model.safetensors")
    goals = tmp_path / "held_out.jsonl"
    rows = [
        {"goal": "shut the red door", "plan": "close(the red door)"},
        {"goal": "open the blue door, then close it", "plan": "open(the blue door)\nclose(the blue door)"},
        {"goal": "close a door", "plan": "close(a door)"},
    ]
    goals.write_text("".join(json.dumps(r) + "\n" for r in rows))
    answers = ["close(the red door)", "open(the blue door)\nopen(the blue door)", "close(the door)"]
    fake = LLMPlanner(FakeListChatModel(responses=answers), max_retries=0)
    monkeypatch.setattr(bench, "builtin_planner", lambda *args, **kwargs: fake)
    config = bench.PlannerBenchConfig(out=None, library=library)
    summary = bench.run_paraphrases(config, goals)
    assert [r["exact"] for r in summary["per_episode"]] == [True, False, False]
    assert [r["exact_any_article"] for r in summary["per_episode"]] == [True, False, True]
