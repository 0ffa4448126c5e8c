"""The goal screen: what no skill can serve is refused before any plan, with its reason."""

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from foreman.envs import KindSpec, make_env
from foreman.orchestrator import Agent
from foreman.planner import LLMPlanner, PlanRequest, SkillSpec, vocabulary_specs
from foreman.planner.screen import LanguageModelScreen, judge_messages
from foreman.skills import SkillLibrary

SPECS = [s for s in vocabulary_specs() if s.subgoal != "drop"]


class ScriptedScorer:
    """Answers yes or no with a fixed margin, and records what it was asked."""

    def __init__(self, margin: float):
        self.margin, self.asked = margin, []

    def score(self, messages, prefix, continuations):
        self.asked.append(messages[-1].content)
        assert continuations == ["yes", "no"]
        return [self.margin, 0.0]


@pytest.mark.parametrize("goal", ["pick up the blue key, then open the yellow door", "go to a ball on your left"])
def test_a_goal_in_the_mission_language_passes_without_asking_the_model(goal):
    scorer = ScriptedScorer(-10.0)
    assert LanguageModelScreen(scorer).refusal(goal, SPECS) is None and scorer.asked == []


def test_a_mission_clause_without_a_skill_is_refused_naming_it():
    no_put = [s for s in SPECS if s.subgoal != "put_next"]
    reason = LanguageModelScreen(ScriptedScorer(10.0)).refusal("put the red ball next to the blue box", no_put)
    assert reason == "no skill does put next"


def test_things_of_the_world_no_skill_acts_on_are_refused_naming_them():
    scorer = ScriptedScorer(10.0)
    reason = LanguageModelScreen(scorer).refusal("use the key to open the door and then get to the goal", SPECS)
    assert reason == "no skill acts on goal squares (the skills act on balls, boxes, keys and doors)"
    assert scorer.asked == []


def test_a_colour_no_object_of_the_world_has_is_refused_naming_it():
    scorer = ScriptedScorer(10.0)
    reason = LanguageModelScreen(scorer).refusal("Go to the orange box", SPECS)
    assert reason == "the world has nothing orange (its objects are red, green, blue, purple, yellow, grey)"
    assert scorer.asked == [] and LanguageModelScreen(scorer).refusal("go to the red box", SPECS) is None


@pytest.mark.parametrize(
    ("goal", "margin", "refused"),
    [
        ("grab the blue key", -1.2, False),  # names an object: refused only on a clear no
        ("grab the blue key", -1.6, True),
        ("fetch the orb", 1.2, False),  # names no kind of object of the world: needs a clear yes
        ("fetch the orb", 0.6, True),
        ("fetch the green sphere", -0.5, False),  # a sphere is what people call a ball
    ],
)
def test_other_goals_are_judged_by_the_model_with_a_bar_set_by_what_they_name(goal, margin, refused):
    scorer = ScriptedScorer(margin)
    reason = LanguageModelScreen(scorer).refusal(goal, SPECS)
    assert (reason is not None) == refused and scorer.asked == [f"Request: {goal}"]


def test_the_judged_prompt_lists_the_skills_from_their_cards():
    system = judge_messages("anything", SPECS)[0].content
    assert all(f"{s.signature()}: {s.description}" in system for s in SPECS)
    assert "balls, boxes, keys and doors" in system


def test_a_refused_goal_takes_no_env_step_and_no_plan_call():
    model = FakeListChatModel(responses=["go_to(the door)"])
    planner = LLMPlanner(model, screen=LanguageModelScreen(ScriptedScorer(-5.0)))
    result = Agent(planner, SkillLibrary()).run(make_env("BabyAI-GoToLocal-v0"), goal="tell me a joke", seed=1)
    assert result.end_reason == "refused" and result.steps == 0 and result.llm_calls == 0 and not result.success
    assert "the skills are close(DOOR), go_to(OBJECT)" in result.plans[0].refusal


def test_replans_are_not_screened_again():
    scorer = ScriptedScorer(-5.0)
    planner = LLMPlanner(FakeListChatModel(responses=["go_to(the red ball)"]), screen=LanguageModelScreen(scorer))
    from foreman.envs import parse_mission
    from foreman.planner import SubgoalOutcome

    history = [SubgoalOutcome(subgoal=parse_mission("go to the red ball"), status="failed")]
    result = planner.plan(PlanRequest(goal="head to the crimson sphere", skills=SPECS, history=history))
    assert result.refusal is None and result.plan is not None and scorer.asked == []


def test_goal_squares_are_for_the_model_to_judge_once_a_skill_stands_on_them():
    reach = SkillSpec(
        name="reach",
        description="Walk onto a goal square.",
        subgoal="reach",
        kind=KindSpec.model_validate(
            {
                "name": "reach",
                "says": "go to {goal}",
                "arguments": [{"name": "goal", "type": "goal"}],
                "check": {"on": "goal"},
            }
        ),
    )
    scorer = ScriptedScorer(-1.0)  # a doubtful answer: enough for a goal that names what the world has
    screen = LanguageModelScreen(scorer)
    assert screen.refusal("use the key to open the door and then get to the goal", [*SPECS, reach]) is None
    assert screen.refusal("get to the goal", [*SPECS, reach]) is None
    assert "goal squares" in judge_messages("anything", [*SPECS, reach])[0].content.split(". ")[0]
    assert "no goal squares" in judge_messages("anything", SPECS)[0].content
    assert screen.refusal("walk into the lava", [*SPECS, reach]).startswith("no skill acts on lava")
