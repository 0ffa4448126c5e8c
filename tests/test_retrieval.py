"""Skill retrieval for large libraries, with the real all-MiniLM-L6-v2 from its PyPI package."""

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from foreman.planner import LLMPlanner, PlanRequest, SkillSpec, vocabulary_specs
from foreman.planner.retrieval import SkillRetriever

CHORES = [
    "Water the plants on the balcony.",
    "Sing a song about the weather.",
    "Sort the laundry by colour.",
    "Bake bread in the oven.",
    "Count the coins in the jar.",
    "Feed the cat twice a day.",
    "Paint the fence white.",
    "Tune the guitar strings.",
    "Fold the paper into a crane.",
    "Sweep the kitchen floor.",
    "Read the newspaper aloud.",
    "Wash the car with soap.",
]


@pytest.fixture(scope="module")
def library():
    chores = [SkillSpec(name=f"chore_{i}", description=d, subgoal="go_to") for i, d in enumerate(CHORES)]
    real = [
        SkillSpec(name="pick_up", description="Walk to a matching object and lift it.", subgoal="pick_up"),
        SkillSpec(name="open", description="Walk to a matching door and open it.", subgoal="open"),
        SkillSpec(
            name="put_next", description="Carry an object next to a second one and put it down.", subgoal="put_next"
        ),
    ]
    return chores[:6] + real + chores[6:]


@pytest.fixture(scope="module")
def retriever(library):
    return SkillRetriever(library)


@pytest.mark.parametrize(
    ("goal", "skill"),
    [
        ("grab the blue key", "pick_up"),
        ("unlock and open the yellow door", "open"),
        ("put the ball next to the box", "put_next"),
    ],
)
def test_the_relevant_skill_is_shortlisted(retriever, goal, skill):
    shortlist = retriever.shortlist(goal, 4)
    assert len(shortlist) == 4 and skill in [s.name for s in shortlist]


def test_a_small_library_is_listed_whole(retriever, library):
    assert retriever.shortlist("anything", len(library)) == library


def test_the_planner_lists_a_shortlist_for_a_large_library(library, retriever):
    model = FakeListChatModel(responses=["open(the yellow door)"])
    planner = LLMPlanner(model, max_listed_skills=5, encoder=retriever.encoder)
    request = PlanRequest(goal="open the yellow door", skills=library)
    listed = planner.listed_skills(request)
    assert len(listed) == 5 and "open" in [s.name for s in listed]
    _, messages = planner.messages(request.model_copy(update={"skills": listed}))
    assert "chore_" not in messages[0].content or messages[0].content.count("- chore_") <= 4
    result = planner.plan(request)
    assert [s.kind for s in result.plan] == ["open"]
    assert len(LLMPlanner(model).listed_skills(PlanRequest(goal="x", skills=vocabulary_specs()))) == 5
