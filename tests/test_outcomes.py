"""Reinforcement from outcomes: reworded goals, sampled plans scored by execution, training data."""

from __future__ import annotations

import itertools
import random
from dataclasses import replace

from langchain_core.language_models import FakeListChatModel
from langchain_core.messages import AIMessage

from foreman.envs import clauses_in_order, from_babyai, make_env
from foreman.planner import LLMPlanner, PlannerPrompts, PlanParser, PlanRequest, SubgoalOutcome
from foreman.planner.fixed import FixedPlanner
from foreman.planner.tuning.data import DataRecipe, library_specs
from foreman.planner.tuning.outcomes import (
    FULL_DISTRIBUTION,
    GoalOutcome,
    OutcomeConfig,
    outcome_examples,
    read_goals,
    reorderings,
    sample_and_score,
    score_replans,
    summary,
    unlabeled_goals,
    write_goals,
)
from foreman.planner.tuning.rewording import keeps_meaning, reword

CONFIG = OutcomeConfig(goals=6, seed=777, samples=3, levels={"BabyAI-GoToSeq-v0": 1.0})


def _clauses(env_id: str, seed: int) -> list:
    env = make_env(env_id)
    env.reset(seed=seed)
    return clauses_in_order(from_babyai(env.unwrapped.instrs))


_REWORDINGS = itertools.count()


class _Rewriter(FakeListChatModel):
    """Answers each rewording prompt with a wording that loses the mission, then one that keeps it."""

    def invoke(self, messages, **kwargs):
        mission = messages[0].content.rsplit("Instruction: ", 1)[1].strip()
        keeps = next(_REWORDINGS) % 2
        return AIMessage(content=f'"{mission.replace("go to", "head to")}"\nmore' if keeps else "walk over to it")


def test_reworded_goals_keep_the_missions_meaning_and_the_mission_for_scoring():
    goals = unlabeled_goals(CONFIG, _Rewriter(responses=[""]))
    assert [g.seed for g in goals] == list(range(777, 783))
    for goal in goals:
        assert goal.mission == make_env(goal.env_id).reset(seed=goal.seed)[0]["mission"]
        assert goal.goal == goal.mission.replace("go to", "head to")
    lossy = FakeListChatModel(responses=["walk over to it", "   "])
    assert unlabeled_goals(CONFIG, lossy) == []  # no rewording kept the meaning: the missions are left out


def test_a_rewording_keeps_meaning_only_with_every_object_location_and_kind_of_step():
    mission = "pick up the grey key on your left, then put a ball next to the red door"
    assert keeps_meaning(mission, "Grab the gray key to your left and then place a ball beside the red door.")
    assert not keeps_meaning(mission, "Grab the grey key, then place a ball beside the red door.")  # left lost
    assert not keeps_meaning(mission, "Grab the grey key on your left, then place a ball by the blue door.")
    assert not keeps_meaning(mission, "Go to the grey key on your left, then go to a ball and the red door.")
    assert not keeps_meaning("go to a purple box", "Pick up the purple box.")
    assert not keeps_meaning("go to a purple box", "Go to the purple boxes.")
    assert not keeps_meaning("pick up the red box", "Pick up the red box first, then proceed with the rest.")
    assert keeps_meaning("open a door", "Unlock a door.")
    moved = "put the blue ball next to the green key"
    assert keeps_meaning(moved, "Set the blue ball beside the green key.")
    assert not keeps_meaning(moved, "Set the green key beside the blue ball.")  # the key would be moved
    assert not keeps_meaning(moved, "Find the blue ball, then set the green key beside it.")
    assert keeps_meaning(moved, "Find the blue ball and set it beside the green key.")


def test_a_rewording_keeps_the_order_of_steps_and_where_each_object_lies():
    """Rewordings the tasks bench let through had changed the task; each is refused now."""
    after = "open a yellow door after you open the door in front of you and open a door"
    assert keeps_meaning(after, "After opening the door in front of you and a door, open a yellow door.")
    assert keeps_meaning(after, "Open a yellow door after you open the door in front of you and open a door.")
    assert not keeps_meaning(after, "Open the yellow door first, then open the door in front of you, then a door.")
    assert not keeps_meaning(
        "go to the blue key and open the blue door on your right",
        "Go to the blue door on your right, then open it with the blue key.",
    )
    assert keeps_meaning("go to the red key, then pick up a box", "Go to the red key before picking up a box.")
    assert not keeps_meaning("go to the red key and pick up a box", "Go to the red key before picking up a box.")
    behind = "put the ball behind you next to the red ball"
    assert keeps_meaning(behind, "Put the ball behind you beside the red ball.")
    assert not keeps_meaning(behind, "Put the ball next to the red ball behind you.")
    assert not keeps_meaning("pick up the grey ball on your left", "Move to your left, pick up the grey ball.")
    assert not keeps_meaning("pick up the grey ball", "Pick up the grey ball on your left.")
    two = "pick up a grey key after you pick up a key"
    assert keeps_meaning(two, "After you pick up a key, pick up a grey key.")
    assert not keeps_meaning(two, "After picking up a grey key, pick up a key.")  # reversed
    both = "pick up the yellow ball and pick up a purple key"
    assert keeps_meaning(both, "Pick up the yellow ball and grab a purple key.")
    assert not keeps_meaning(both, "Gather a yellow ball and locate a purple key.")  # the key only found


def test_every_distinct_sampled_plan_is_executed_once_and_scored_by_the_rollout():
    goals = [GoalOutcome(env_id="BabyAI-GoToSeq-v0", seed=s, mission="", goal="g") for s in (1, 2)]
    right = [_clauses("BabyAI-GoToSeq-v0", s) for s in (1, 2)]
    replies = []
    for clauses in right:
        wrong = "go_to(a ball)"
        correct = "\n".join(f"go_to({c.target.to_text()})" for c in clauses)
        replies += [wrong, correct, correct, wrong]  # greedy is wrong, a sample is right (twice)
    replies.append("\n".join(f"go_to({c.target.to_text()})" for c in _clauses("BabyAI-GoToSeq-v0", 3)))
    goals.append(GoalOutcome(env_id="BabyAI-GoToSeq-v0", seed=3, mission="", goal="g"))
    planner = LLMPlanner(FakeListChatModel(responses=replies), max_retries=0)
    calls = []

    def rollout(env_id, seed, goal, plans):
        (plan,) = plans
        calls.append((seed, tuple(s.to_text() for s in plan)))
        return plan == _clauses(env_id, seed), None

    sample_and_score(goals, planner, rollout, CONFIG)
    assert len(calls) == 5 and len(set(calls)) == 5  # repeated samples were not run again
    assert all(not g.greedy and sum(g.plans.values()) == 1 for g in goals[:2])
    assert goals[2].greedy and len(goals[2].plans) == 1  # a greedy plan that works is not resampled
    assert summary(goals) == {
        "goals": 3,
        "greedy_success": 1 / 3,
        "any_success": 1.0,
        "corrections": 2,
        "distinct_plans": 5,
        "replanned": 0,
        "greedy_revision_success": 0,
        "revision_corrections": 0,
    }


def test_the_proposer_plans_only_where_the_greedy_plan_failed_and_scored_goals_keep_their_plans(tmp_path):
    right = "\n".join(f"go_to({c.target.to_text()})" for c in _clauses("BabyAI-GoToSeq-v0", 1))
    failed = GoalOutcome(env_id="BabyAI-GoToSeq-v0", seed=1, mission="", goal="g")
    won = GoalOutcome(env_id="BabyAI-GoToSeq-v0", seed=2, mission="", goal="g")
    won.plans, won.greedy, won.greedy_plan = {"go_to(a ball)": True}, True, "go_to(a ball)"
    write_goals([failed, won], tmp_path / "goals.jsonl")
    goals = read_goals(tmp_path / "goals.jsonl")
    assert goals[1] == won
    planner = LLMPlanner(FakeListChatModel(responses=["go_to(a key)"]), max_retries=0)
    proposer = LLMPlanner(FakeListChatModel(responses=[right, "go_to(a box)"]), max_retries=0)
    config = OutcomeConfig(samples=2, proposals=2)
    sample_and_score(
        goals,
        planner,
        lambda env_id, seed, goal, plans: (plans == [_clauses(env_id, seed)], None),
        config,
        proposer=proposer,
    )
    assert goals[0].plans == {"go_to(a key)": False, right: True, "go_to(a box)": False}
    assert not goals[0].greedy and goals[1].plans == {"go_to(a ball)": True}  # nothing asked of the proposer


class _Recording(FakeListChatModel):
    """Answers from its list and keeps the sampling options of every call."""

    options: list = []

    def invoke(self, messages, **kwargs):
        self.options.append(kwargs)
        return super().invoke(messages)


def test_samples_come_from_the_whole_distribution_and_the_greedy_plan_from_its_mode():
    goals = [GoalOutcome(env_id="BabyAI-GoToSeq-v0", seed=1, mission="", goal="g")]
    model = _Recording(responses=["go_to(a key)", "go_to(a ball)", "go_to(a box)"], options=[])
    config = OutcomeConfig(samples=2, temperature=1.5, proposals=0)
    sample_and_score(goals, LLMPlanner(model, max_retries=0), lambda *_: (False, None), config)
    greedy, *samples = model.options
    assert greedy["temperature"] == 0.0 and not FULL_DISTRIBUTION.keys() & greedy.keys()
    assert [s["temperature"] for s in samples] == [1.5, 1.5]
    assert all(s[k] == v for s in samples for k, v in FULL_DISTRIBUTION.items())
    assert FULL_DISTRIBUTION == {"top_k": 0, "top_p": 1.0, "min_p": 0.0}  # llama.cpp: nothing cut
    model = _Recording(responses=["go_to(a key)"], options=[])
    truncated = OutcomeConfig(samples=1, proposals=0, full_distribution=False)
    sample_and_score(
        [GoalOutcome(env_id="BabyAI-GoToSeq-v0", seed=1, mission="", goal="g")],
        LLMPlanner(model, max_retries=0),
        lambda *_: (False, None),
        truncated,
    )
    assert not FULL_DISTRIBUTION.keys() & model.options[1].keys()


def test_training_examples_are_the_shortest_successful_plans_mixed_with_replayed_labels():
    won = GoalOutcome(env_id="BabyAI-GoToSeq-v0", seed=5, mission="m", goal="go there")
    won.plans = {"go_to(a ball)\ngo_to(a box)": True, "go_to(a ball)": True, "go_to(a key)": False}
    lost = GoalOutcome(env_id="BabyAI-GoToSeq-v0", seed=6, mission="m", goal="no")
    lost.plans = {"go_to(a key)": False}
    config = OutcomeConfig(replay_fraction=1.0, correction_repeats=3)
    examples = outcome_examples([won, lost], config, DataRecipe(examples=5))
    outcome = [e for e in examples if e.kind == "outcome"]
    assert len(outcome) == 3  # the greedy plan failed: a correction, repeated
    assert all(e.plan == "go_to(a ball)" and e.request.goal == "go there" for e in outcome)
    assert len(examples) == 6
    won.greedy = True
    assert len([e for e in outcome_examples([won, lost], config, DataRecipe(examples=5)) if e.kind == "outcome"]) == 1
    corrections_only = replace(config, greedy_repeats=0)
    assert outcome_examples([won, lost], corrections_only, DataRecipe(examples=5)) == []


def test_a_fixed_planner_answers_replans_with_its_revisions_then_keeps_the_first_request_it_cannot_answer():
    plan = _clauses("BabyAI-GoToSeq-v0", 3)
    planner = FixedPlanner(plan, [plan[::-1]])
    assert planner.plan(PlanRequest(goal="x", skills=[])).plan == plan
    asked = [
        PlanRequest(goal="x", skills=[], history=[SubgoalOutcome(subgoal=plan[0], status="failed")] * n)
        for n in (1, 2, 3)
    ]
    assert planner.plan(asked[0]).plan == plan[::-1]
    refused = [planner.plan(request) for request in asked[1:]]
    assert all(r.plan is None and "not revised" in r.failure for r in refused)
    assert planner.unanswered is asked[1]


def test_in_the_agent_loop_a_fixed_planner_runs_its_plans_in_turn_and_records_the_next_request(tiny_library):
    from foreman.orchestrator import Agent, AgentConfig
    from foreman.planner import PlanParser

    parser = PlanParser(specs=library_specs())
    unreachable, other = (parser.parse(f"go_to(the {c} door)") for c in ("grey", "blue"))  # one room: no door
    planner = FixedPlanner(unreachable, [other])
    result = Agent(planner, tiny_library, AgentConfig(subgoal_steps=3, max_replans=2)).run(
        make_env("BabyAI-GoToLocal-v0"), seed=1
    )
    assert [r.subgoal for r in result.subgoals] == unreachable + other
    assert result.end_reason == "planning failed"
    assert [o.subgoal for o in planner.unanswered.history] == unreachable + other
    assert {o.status for o in planner.unanswered.history} == {"ran out of steps"}


def test_reorderings_are_the_other_orders_reversed_first_then_rotations():
    a, b, c = PlanParser(specs=library_specs()).parse("go_to(a ball)\ngo_to(a box)\nopen(the red door)")
    assert reorderings([a, b, c]) == [[c, b, a], [b, c, a], [c, a, b]]
    assert reorderings([a, b]) == [[b, a]]  # the rotation is the reversal: listed once
    assert reorderings([a]) == [] and reorderings([a, a]) == []


def _replan_rollout(right_revision, history_status="succeeded"):
    """Succeeds when the first plan is answered at its replan request by ``right_revision``."""
    calls = []

    def rollout(env_id, seed, goal, plans):
        calls.append([[s.to_text() for s in p] for p in plans])
        first = plans[0]
        history = [SubgoalOutcome(subgoal=s, status=history_status) for s in first]
        request = PlanRequest(goal=goal, skills=library_specs(), history=history, observation="seen")
        if len(plans) == 1:
            return False, request
        return plans[1] == right_revision, None

    return rollout, calls


def test_replanning_is_explored_where_the_greedy_plan_failed_and_a_found_revision_becomes_an_example():
    specs = library_specs()
    parser = PlanParser(specs=specs)
    first = parser.parse("go_to(a ball)\ngo_to(a box)")
    failed = GoalOutcome(
        env_id="BabyAI-GoToSeq-v0", seed=1, mission="m", goal="g", greedy_plan="go_to(a ball)\ngo_to(a box)"
    )
    failed.plans = {"go_to(a ball)\ngo_to(a box)": False}
    won = GoalOutcome(
        env_id="BabyAI-GoToSeq-v0", seed=2, mission="m", goal="g", greedy=True, greedy_plan="go_to(a key)"
    )
    rollout, calls = _replan_rollout(first[::-1])
    planner = LLMPlanner(FakeListChatModel(responses=["go_to(a box)", "go_to(a box)", "go_to(a key)"]), max_retries=0)
    config = OutcomeConfig(replans=True, replan_samples=2, replay_fraction=0.0, correction_repeats=3, replan_repeats=2)
    score_replans([failed, won], planner, rollout, config)
    assert calls[0] == [["go to a ball", "go to a box"]]  # run to the replan request, once
    assert failed.revisions == {"go_to(a box)": False, "go_to(a key)": False, "go_to(a box)\ngo_to(a ball)": True}
    assert not failed.greedy_revision and len(calls) == 4 and not won.revisions  # the won goal is not replanned
    assert PlanRequest(**failed.replan_request).observation == "seen"
    examples = outcome_examples([failed, won], config, DataRecipe(examples=5))
    assert [e.plan for e in examples] == ["go_to(a box)\ngo_to(a ball)"] * 2
    assert all(e.request.history and e.request.history[0].subgoal == first[0] for e in examples)
    assert summary([failed, won])["revision_corrections"] == 1


def test_after_a_failed_subgoal_only_the_models_revisions_are_tried_and_a_greedy_revision_that_works_is_an_anchor():
    specs = library_specs()
    first = PlanParser(specs=specs).parse("go_to(a ball)\ngo_to(a box)")
    goal = GoalOutcome(
        env_id="BabyAI-GoToSeq-v0", seed=1, mission="m", goal="g", greedy_plan="go_to(a ball)\ngo_to(a box)"
    )
    rollout, calls = _replan_rollout(first[::-1], history_status="failed")
    planner = LLMPlanner(FakeListChatModel(responses=["go_to(a key)"]), max_retries=0)
    score_replans([goal], planner, rollout, OutcomeConfig(replans=True, replan_samples=0))
    assert list(goal.revisions) == ["go_to(a key)"] and len(calls) == 2  # no reordering after a failure
    rollout, _ = _replan_rollout(PlanParser(specs=specs).parse("go_to(a key)"))
    again = GoalOutcome(env_id="BabyAI-GoToSeq-v0", seed=1, mission="m", goal="g", greedy_plan="go_to(a ball)")
    score_replans([again], planner, rollout, OutcomeConfig(replans=True, replan_samples=0))
    assert again.greedy_revision
    anchored = outcome_examples([again], OutcomeConfig(replay_fraction=0.0, greedy_revision_repeats=1), DataRecipe())
    assert [e.plan for e in anchored] == ["go_to(a key)"]  # once, not as a correction
    unanchored = OutcomeConfig(replay_fraction=0.0, greedy_revision_repeats=0)
    assert outcome_examples([again], unanchored, DataRecipe()) == []


def test_reword_reads_its_prompt_file_and_seeds_each_call():
    seen = []

    class Recorder(FakeListChatModel):
        def invoke(self, messages, **kwargs):
            seen.append((messages[0].content, kwargs))
            return super().invoke(messages)

    text = reword("go to the red ball", Recorder(responses=["head for the red ball"]), random.Random(0))
    assert text == "head for the red ball"
    assert reword("go to the red ball", FakeListChatModel(responses=["  "]), random.Random(0)) == ""
    assert "Instruction: go to the red ball" in seen[0][0] and "seed" in seen[0][1]
    assert PlannerPrompts.load("tuned").examples == ()
