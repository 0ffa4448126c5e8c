import pytest
from pydantic import TypeAdapter, ValidationError

from foreman.envs import (
    After,
    And,
    Before,
    GoTo,
    Instruction,
    MissionParseError,
    ObjectDesc,
    Open,
    PickUp,
    PutNext,
    clauses_in_order,
    from_babyai,
    make_env,
    parse_mission,
)

LEVELS = ["GoToLocal", "PickupLoc", "PutNextLocal", "GoToSeq", "SynthSeq", "BossLevel"]
MISSIONS_PER_LEVEL = 1000


@pytest.mark.parametrize("level", LEVELS)
def test_parser_agrees_with_the_env_on_every_sampled_mission(level):
    """Text -> tree equals the env's own tree, and tree -> text gives the mission back."""
    env = make_env(f"BabyAI-{level}-v0")
    disagreements = []
    for seed in range(MISSIONS_PER_LEVEL):
        obs, _ = env.reset(seed=seed)
        mission = obs["mission"]
        parsed = parse_mission(mission)
        if parsed != from_babyai(env.unwrapped.instrs) or parsed.to_text() != mission:
            disagreements.append((seed, mission))
    assert disagreements == []


def test_parse_builds_the_typed_tree():
    tree = parse_mission("put the red ball on your left next to a door, then go to a key and open the grey door")
    assert tree == Before(
        first=PutNext(
            target=ObjectDesc(article="the", color="red", type="ball", location="left"),
            next_to=ObjectDesc(article="a", type="door"),
        ),
        second=And(
            first=GoTo(target=ObjectDesc(article="a", type="key")),
            second=Open(target=ObjectDesc(color="grey", type="door")),
        ),
    )


def test_after_you_runs_the_second_phrase_first():
    tree = parse_mission("open the blue door after you pick up the box behind you")
    assert isinstance(tree, After)
    assert [c.kind for c in clauses_in_order(tree)] == ["pick_up", "open"]
    assert tree.to_text() == "open the blue door after you pick up the box behind you"


def test_untyped_object_and_case_are_accepted():
    tree = parse_mission("Go to the Purple object in front of you")
    assert tree == GoTo(target=ObjectDesc(color="purple", location="front"))
    assert tree.to_text() == "go to the purple object in front of you"


def test_tree_round_trips_through_json():
    adapter = TypeAdapter(Instruction)
    tree = parse_mission("go to a ball and pick up the green key, then open a door")
    assert adapter.validate_json(adapter.dump_json(tree)) == tree


@pytest.mark.parametrize(
    ("text", "position", "expected"),
    [
        ("", 0, "an instruction"),
        ("   ", 0, "an instruction"),
        ("go to the bal", 10, "ball, box, key, door or object"),
        ("fly to the red ball", 0, "'go to', 'pick up', 'open' or 'put'"),
        ("pick up the red door", 8, "not a door"),
        ("open the red ball", 5, "a door"),
        ("put the grey door next to a ball", 4, "not a door"),
        ("go to the red ball after", 24, "'you'"),
        ("go to the red ball, open a door", 20, "'then'"),
        ("go to the ball on your back", 23, "'left' or 'right'"),
        ("go to the ball.", 14, "'and', ', then', 'after you' or the end of the mission"),
        ("go to the ball and pick up a key and open a door", 33, "', then', 'after you' or the end"),
        ("go to a ball, then open a door, then go to a key", 30, "expected the end of the mission"),
        ("go to the ball; drop table", 14, "the end of the mission"),
    ],
)
def test_malformed_text_names_the_failing_position(text, position, expected):
    with pytest.raises(MissionParseError) as err:
        parse_mission(text)
    assert err.value.position == position
    assert expected in str(err.value)
    assert f"character {position}" in str(err.value)


def test_bad_trees_are_rejected_by_validation():
    with pytest.raises(ValidationError):
        PickUp(target=ObjectDesc(type="door"))
    with pytest.raises(ValidationError):
        Open(target=ObjectDesc(type="ball"))
    with pytest.raises(ValidationError):
        ObjectDesc(color="pink", type="ball")
