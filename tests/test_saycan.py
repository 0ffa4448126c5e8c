"""SayCan mode with a scripted scorer (a test double): candidates, the end of a plan, affordances."""

import math

import pytest

from foreman.envs import parse_object
from foreman.planner import PlanRequest, vocabulary_specs
from foreman.planner.saycan import END_OF_TURN, SayCanPlanner, candidate_calls

SPECS = vocabulary_specs()


class ScriptedScorer:
    """log p(line) = 0 for the script's next line, ``other`` for any other call; the turn ends
    after the script's last line (log p = -0.1 for the expected ending, -5 for the other)."""

    def __init__(self, script: list[str], other: float = -4.0, bias: dict[str, float] | None = None):
        self.script, self.other, self.bias = script, other, bias or {}
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, messages, prefix, continuations):
        self.calls.append((prefix, list(continuations)))
        step = prefix.count("\n")
        scores = []
        for text in continuations:
            ends = text.endswith(END_OF_TURN)
            line = text.removesuffix(END_OF_TURN).removesuffix("\n")
            expected = self.script[step] if step < len(self.script) else None
            value = 0.0 if line == expected else self.other
            value += self.bias.get(line, 0.0) if step == 0 else 0.0
            should_end = step >= len(self.script) - 1
            scores.append(value + (-0.1 if ends == should_end else -5.0))
        return scores


def _texts(plan):
    return [s.to_text() for s in plan]


def test_candidates_fit_each_skills_arguments():
    calls = candidate_calls(SPECS, ["the red door", "a blue key", "the ball"])
    assert "open(the red door)" in calls and "open(a blue key)" not in calls
    assert "pick_up(a blue key)" in calls and "pick_up(the red door)" not in calls
    assert "put_next(a blue key, the red door)" in calls and "put_next(the red door, a blue key)" not in calls
    assert "put_next(the ball, the ball)" not in calls and "go_to(the red door)" in calls
    assert all(parse_object(p) for p in ["the red door", "a blue key", "the ball"])


def test_the_plan_is_the_best_scored_call_each_step_and_ends_where_the_model_would_end_its_turn():
    scorer = ScriptedScorer(["pick_up(the blue key)", "open(the yellow door)"])
    result = SayCanPlanner(scorer).plan(
        PlanRequest(goal="pick up the blue key, then open the yellow door", skills=SPECS)
    )
    assert _texts(result.plan) == ["pick up the blue key", "open the yellow door"]
    assert [prefix for prefix, _ in scorer.calls] == ["", "pick_up(the blue key)\n"]
    # every call was scored with both endings: a newline (more to come) and the end of the turn
    assert len(scorer.calls[0][1]) == 2 * len(candidate_calls(SPECS, ["the blue key", "the yellow door"]))
    assert result.attempts[0].raw == "pick_up(the blue key)\nopen(the yellow door)"


def test_the_affordance_multiplies_the_first_steps_likelihood():
    goal = "go to the red ball or the green box"
    scorer = ScriptedScorer(["go_to(the red ball)"], bias={"go_to(the green box)": 4.0 - 1.0})
    values = {"go to the red ball": 0.1, "go to the green box": 1.0}

    def affordance(subgoal):
        return values.get(subgoal.to_text(), 1.0)

    without = SayCanPlanner(scorer).plan(PlanRequest(goal=goal, skills=SPECS))
    assert _texts(without.plan) == ["go to the red ball"]  # log p: 0 against -1
    chosen = SayCanPlanner(scorer).plan(PlanRequest(goal=goal, skills=SPECS, affordance=affordance))
    assert _texts(chosen.plan) == ["go to the green box"]  # 0 + log 0.1 = -2.3 against -1 + log 1


def test_an_affordance_near_zero_demotes_a_call_but_does_not_veto_it():
    scorer = ScriptedScorer(["go_to(the red ball)"], other=-9.0)
    request = PlanRequest(goal="go to the red ball, not the green box", skills=SPECS, affordance=lambda s: 0.0)
    assert _texts(SayCanPlanner(scorer).plan(request).plan) == ["go to the red ball"]
    assert math.log(0.05) > -9.0


def test_the_plan_stops_at_max_steps():
    scorer = ScriptedScorer(["go_to(the red ball)"] * 10)
    result = SayCanPlanner(scorer, max_steps=3).plan(PlanRequest(goal="go to the red ball", skills=SPECS))
    assert len(result.plan) == 3


@pytest.mark.parametrize(
    ("goal", "failure"), [("   ", "the goal is empty"), ("dance a little", "no skill call can be made")]
)
def test_goals_without_a_plan_are_recorded_failures_without_scoring(goal, failure):
    scorer = ScriptedScorer([])
    library_like = [s for s in SPECS if s.subgoal != "drop"]  # drop() takes no object: always a candidate
    result = SayCanPlanner(scorer).plan(PlanRequest(goal=goal, skills=library_like))
    assert result.plan is None and failure in (result.refusal or result.failure) and scorer.calls == []
