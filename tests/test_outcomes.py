"""Reinforcement from outcomes: reworded goals, sampled plans scored by execution, training data."""

from __future__ import annotations

import random

from langchain_core.language_models import FakeListChatModel

from foreman.envs import clauses_in_order, from_babyai, make_env
from foreman.planner import LLMPlanner, PlannerPrompts, PlanRequest
from foreman.planner.fixed import FixedPlanner
from foreman.planner.tuning.data import DataRecipe
from foreman.planner.tuning.outcomes import (
    GoalOutcome,
    OutcomeConfig,
    outcome_examples,
    reword,
    sample_and_score,
    summary,
    unlabeled_goals,
)

CONFIG = OutcomeConfig(goals=6, seed=777, samples=3, levels={"BabyAI-GoToSeq-v0": 1.0})


def _clauses(env_id: str, seed: int) -> list:
    env = make_env(env_id)
    env.reset(seed=seed)
    return clauses_in_order(from_babyai(env.unwrapped.instrs))


def test_reworded_goals_come_from_the_rewriter_with_the_envs_mission_kept_for_scoring():
    rewriter = FakeListChatModel(responses=['"walk over to it"\nextra line', "   "] * 3)
    goals = unlabeled_goals(CONFIG, rewriter)
    assert [g.seed for g in goals] == list(range(777, 783))
    assert goals[0].goal == "walk over to it"
    assert goals[1].goal == goals[1].mission  # an empty rewording falls back to the mission
    for goal in goals:
        assert goal.mission == make_env(goal.env_id).reset(seed=goal.seed)[0]["mission"]


def test_every_distinct_sampled_plan_is_executed_once_and_scored_by_the_rollout():
    goals = [GoalOutcome(env_id="BabyAI-GoToSeq-v0", seed=s, mission="", goal="g") for s in (1, 2)]
    right = [_clauses("BabyAI-GoToSeq-v0", s) for s in (1, 2)]
    replies = []
    for clauses in right:
        wrong = "go_to(a ball)"
        correct = "\n".join(f"go_to({c.target.to_text()})" for c in clauses)
        replies += [wrong, correct, correct]  # greedy is wrong, a sample is right (twice)
    planner = LLMPlanner(FakeListChatModel(responses=replies), max_retries=0)
    calls = []

    def rollout(env_id, seed, goal, plan):
        calls.append((seed, tuple(s.to_text() for s in plan)))
        return plan == _clauses(env_id, seed)

    sample_and_score(goals, planner, rollout, CONFIG)
    assert len(calls) == 4 and len(set(calls)) == 4  # the repeated sample was not run again
    assert all(not g.greedy and sum(g.plans.values()) == 1 for g in goals)
    assert summary(goals) == {"goals": 2, "greedy_success": 0.0, "any_success": 1.0, "distinct_plans": 4}


def test_training_examples_are_the_shortest_successful_plans_mixed_with_replayed_labels():
    won = GoalOutcome(env_id="BabyAI-GoToSeq-v0", seed=5, mission="m", goal="go there")
    won.plans = {"go_to(a ball)\ngo_to(a box)": True, "go_to(a ball)": True, "go_to(a key)": False}
    lost = GoalOutcome(env_id="BabyAI-GoToSeq-v0", seed=6, mission="m", goal="no")
    lost.plans = {"go_to(a key)": False}
    examples = outcome_examples([won, lost], OutcomeConfig(replay_fraction=1.0), DataRecipe(examples=5))
    outcome = [e for e in examples if e.kind == "outcome"]
    assert len(outcome) == 1 and outcome[0].plan == "go_to(a ball)" and outcome[0].request.goal == "go there"
    assert len(examples) == 2


def test_a_fixed_planner_returns_its_plan_and_refuses_to_revise_it():
    plan = _clauses("BabyAI-GoToSeq-v0", 3)
    planner = FixedPlanner(plan)
    assert planner.plan(PlanRequest(goal="x", skills=[])).plan == plan
    from foreman.planner import SubgoalOutcome

    replan = planner.plan(PlanRequest(goal="x", skills=[], history=[SubgoalOutcome(subgoal=plan[0], status="failed")]))
    assert replan.plan is None and "not revised" in replan.failure


def test_reword_reads_its_prompt_file_and_seeds_each_call():
    seen = []

    class Recorder(FakeListChatModel):
        def invoke(self, messages, **kwargs):
            seen.append((messages[0].content, kwargs))
            return super().invoke(messages)

    text = reword("go to the red ball", Recorder(responses=["head for the red ball"]), random.Random(0))
    assert text == "head for the red ball"
    assert "Instruction: go to the red ball" in seen[0][0] and "seed" in seen[0][1]
    assert PlannerPrompts.load("tuned").examples == ()
