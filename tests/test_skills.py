"""Skill network, library and training: behaviour, not success rates (those are in bench/)."""

import json
import shutil

import numpy as np
import pytest
import torch

from foreman.cli import main
from foreman.envs import make_env
from foreman.skills import SkillLibrary, SkillLoadError, SkillNetwork
from foreman.skills.ppo import PPOConfig, finetune
from foreman.skills.train import TrainConfig, clone_loss, collect_demos, train


@pytest.fixture(scope="module")
def demos():
    episodes, frames = collect_demos("Foreman-PutNextLocal-v0", range(24))
    assert len(episodes) == 24 and frames == sum(len(e.actions) for e in episodes)
    return episodes


def test_a_training_step_changes_every_parameter_and_stays_finite(demos):
    torch.manual_seed(0)
    network = SkillNetwork(hidden=32)
    before = {k: v.clone() for k, v in network.state_dict().items()}
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    loss, accuracy = clone_loss(network, demos)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss) and 0 <= accuracy <= 1
    unchanged = [k for k, v in network.state_dict().items() if torch.equal(v, before[k])]
    # behaviour cloning trains everything but the critic head (reinforcement learning trains that)
    assert unchanged == [k for k in before if k.startswith("critic.")] and len(unchanged) == 4


def test_cloning_lowers_the_loss(demos):
    torch.manual_seed(0)
    network = SkillNetwork(hidden=32)
    optimizer = torch.optim.Adam(network.parameters(), lr=3e-3)
    first = clone_loss(network, demos)[0].item()
    for _ in range(50):
        loss, _ = clone_loss(network, demos)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.6 * first


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    library = tmp_path_factory.mktemp("library")
    config = TrainConfig(skill="go_to", demos=40, epochs=1, hidden=32, eval_episodes=5, library=library, logdir=None)
    card = train(config)
    return library, card


def test_train_saves_a_card_that_describes_the_run(trained):
    library, card = trained
    assert card.name == "go_to" and card.subgoal == "go_to" and card.network == {"hidden": 32}
    assert card.training.env_id == "Foreman-GoToLocal-v0" and 0 < card.training.demos <= 40
    assert card.evaluation.episodes == 5 and card.evaluation.seeds == (10_000_000, 10_000_004)
    assert [c.name for c in SkillLibrary(library).cards()] == ["go_to"]


def test_save_then_load_gives_identical_action_distributions(trained):
    library, _ = trained
    first, second = SkillLibrary(library).load("go_to"), SkillLibrary(library).load("go_to")
    env = make_env("Foreman-GoToLocal-v0", seed=3)
    obs, _ = env.reset()
    subgoal = env.unwrapped.subgoal
    for action in (2, 1, 2):
        assert torch.equal(first.action_distribution(obs, subgoal), second.action_distribution(obs, subgoal))
        assert first.act(obs, subgoal) == second.act(obs, subgoal)
        obs, *_ = env.step(action)


def test_value_leaves_the_memory_alone(trained):
    library, _ = trained
    skill = SkillLibrary(library).load("go_to")
    env = make_env("Foreman-GoToLocal-v0", seed=4)
    obs, _ = env.reset()
    subgoal = env.unwrapped.subgoal
    before = skill.action_distribution(obs, subgoal)
    assert np.isfinite(skill.value(obs, subgoal))
    assert torch.equal(before, skill.action_distribution(obs, subgoal))


def _copy(trained, tmp_path):
    library, _ = trained
    shutil.copytree(library, tmp_path / "lib")
    return tmp_path / "lib"


def test_corrupt_weights_are_rejected(trained, tmp_path):
    library = _copy(trained, tmp_path)
    weights = library / "go_to" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(SkillLoadError, match="sha256"):
        SkillLibrary(library).load("go_to")


def test_weights_that_do_not_fit_the_card_are_rejected(trained, tmp_path):
    library = _copy(trained, tmp_path)
    card_path = library / "go_to" / "card.json"
    card = json.loads(card_path.read_text())
    card["network"]["hidden"] = 64
    card_path.write_text(json.dumps(card))
    with pytest.raises(SkillLoadError, match="does not fit the network"):
        SkillLibrary(library).load("go_to")


@pytest.mark.parametrize("corruption", ["{not json", '{"name": "go_to"}', ""])
def test_corrupt_cards_are_rejected_naming_the_file(trained, tmp_path, corruption):
    library = _copy(trained, tmp_path)
    (library / "go_to" / "card.json").write_text(corruption)
    with pytest.raises(SkillLoadError, match="card.json is not a valid skill card"):
        SkillLibrary(library).load("go_to")
    with pytest.raises(SkillLoadError):
        SkillLibrary(library).cards()


def test_unknown_skill_lists_what_there_is(trained):
    library, _ = trained
    with pytest.raises(SkillLoadError, match="no skill 'goto'.*Did you mean: go_to"):
        SkillLibrary(library).load("goto")


def test_a_dropped_in_skill_is_listed_without_code_changes(trained, tmp_path, capsys):
    library = _copy(trained, tmp_path)
    shutil.copytree(library / "go_to", library / "walk_to")
    card_path = library / "walk_to" / "card.json"
    card = json.loads(card_path.read_text())
    card["name"] = "walk_to"
    card_path.write_text(json.dumps(card))
    assert main(["skills", "list", "--library", str(library), "--json"]) == 0
    names = [c["name"] for c in json.loads(capsys.readouterr().out)]
    assert names == ["go_to", "walk_to"]
    assert SkillLibrary(library).load("walk_to").card.subgoal == "go_to"
    assert main(["skills", "list", "--library", str(tmp_path / "nowhere")]) == 0


def test_a_skill_refuses_a_subgoal_of_another_kind(trained):
    library, _ = trained
    skill = SkillLibrary(library).load("go_to")
    env = make_env("Foreman-PickupLocal-v0", seed=1)
    obs, _ = env.reset()
    with pytest.raises(ValueError, match="executes 'go_to', not 'pick_up'"):
        skill.act(obs, env.unwrapped.subgoal)


def test_a_ppo_update_changes_every_parameter_and_stays_finite():
    torch.manual_seed(0)
    network = SkillNetwork(hidden=32)
    before = {k: v.clone() for k, v in network.state_dict().items()}
    stats = finetune(network, "Foreman-GoToLocal-v0", PPOConfig(frames=64, envs=4, rollout=16, epochs=1, minibatch=64))
    assert stats.frames == 64 and all(np.isfinite([stats.policy_loss, stats.value_loss, stats.entropy]))
    assert [k for k, v in network.state_dict().items() if torch.equal(v, before[k])] == []
