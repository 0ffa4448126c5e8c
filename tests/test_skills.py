"""Skill network, library and training: behaviour, not success rates (those are in bench/)."""

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch
from minigrid.core.world_object import Box

from foreman.cli import main
from foreman.envs import AgentMemory, GoTo, ObjectDesc, make_env
from foreman.skills import SkillLibrary, SkillLoadError, SkillNetwork, TrainedSkill
from foreman.skills.ppo import ParallelSampler, PPOConfig, Sampler, finetune
from foreman.skills.train import TrainConfig, clone_loss, collect_demos, train
from tests.conftest import TinyRoom


@pytest.fixture(scope="module")
def demos():
    frames, kept, seen = collect_demos("Foreman-PutNextLocal-v0", range(24))
    assert (
        kept == 24 and seen == len(frames["action"]) and set(frames) == {"cells", "flags", "coarse", "vector", "action"}
    )
    return frames


def test_demos_from_two_workers_are_the_demos_from_one():
    one, kept_one, seen_one = collect_demos("Foreman-GoToLocal-v0", range(10))
    two, kept_two, seen_two = collect_demos("Foreman-GoToLocal-v0", range(10), workers=2)
    assert (kept_one, seen_one) == (kept_two, seen_two)
    assert all(np.array_equal(one[k], two[k]) for k in one)


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
    for _ in range(100):
        loss, _ = clone_loss(network, demos)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.5 * first  # measured: 0.38 of the first loss (0.61 after 50 steps)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    library = tmp_path_factory.mktemp("library")
    config = TrainConfig(
        skill="go_to",
        env_id="Foreman-GoToLocal-v0",
        demos=40,
        epochs=1,
        hidden=32,
        workers=1,
        dagger_episodes=6,
        dagger_epochs=1,
        eval_episodes=5,
        critic_episodes=8,
        library=library,
        logdir=None,
    )
    card = train(config)
    return library, card


def test_train_saves_a_card_that_describes_the_run(trained):
    library, card = trained
    assert card.name == "go_to" and card.subgoal == "go_to" and card.network == {"hidden": 32, "routes": True}
    assert card.training.env_id == "Foreman-GoToLocal-v0" and 0 < card.training.demos <= 40
    assert card.training.frames > card.training.demos and card.training.dagger_episodes == 6
    assert card.evaluation.episodes == 5 and card.evaluation.seeds == (10_000_000, 10_000_004)
    assert [c.name for c in SkillLibrary(library).cards()] == ["go_to"]
    assert card.training.critic.episodes == 8 and card.training.critic.held_out_episodes == 2
    assert 0 <= card.training.critic.brier <= 1


def test_init_fine_tunes_a_trained_skill_by_ppo_and_the_card_keeps_its_history(trained, tmp_path):
    library, cloned = trained
    config = TrainConfig(
        skill="go_to",
        init=str(library / "go_to"),
        ppo_frames=128,
        ppo_envs=2,
        kl_to_start=1.0,
        workers=1,
        eval_episodes=3,
        critic_episodes=0,
        library=tmp_path,
    )
    card = train(config)
    assert card.training.demos == cloned.training.demos and card.training.dagger_episodes == 6
    assert card.training.rl_frames == 128 and card.training.frames == cloned.training.frames + 128
    assert card.training.init.endswith(")") and card.training.success_before_rl is not None
    assert card.training.env_id == "Foreman-GoToLocal-v0" and card.training.critic is None
    before = SkillLibrary(library).load("go_to").network.state_dict()
    after = SkillLibrary(tmp_path).load("go_to").network.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    with pytest.raises(ValueError, match="executes 'go_to': a built-in kind \\('open'\\) starts from"):
        train(replace(config, skill="open"))


def test_save_then_load_gives_identical_action_distributions(trained):
    library, _ = trained
    first, second = SkillLibrary(library).load("go_to"), SkillLibrary(library).load("go_to")
    env, memory = _started("Foreman-GoToLocal-v0", seed=3)
    subgoal = env.unwrapped.subgoal
    for action in (2, 1, 2):
        assert torch.equal(first.action_distribution(memory, subgoal), second.action_distribution(memory, subgoal))
        assert first.act(memory, subgoal) == second.act(memory, subgoal)
        obs, *_ = env.step(action)
        memory.observe(obs, action)


def _started(env_id: str, seed: int):
    env = make_env(env_id, seed=seed)
    obs, _ = env.reset()
    memory = AgentMemory()
    memory.observe(obs)
    return env, memory


def test_value_and_act_leave_the_memory_alone(trained):
    library, _ = trained
    skill = SkillLibrary(library).load("go_to")
    env, memory = _started("Foreman-GoToLocal-v0", seed=4)
    subgoal = env.unwrapped.subgoal
    grid = memory.grid.copy()
    before = skill.action_distribution(memory, subgoal)
    assert np.isfinite(skill.value(memory, subgoal))
    skill.act(memory, subgoal)
    assert torch.equal(before, skill.action_distribution(memory, subgoal))
    assert np.array_equal(grid, memory.grid)


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


def test_a_card_from_before_route_features_loads_a_network_that_reads_without_them(trained, tmp_path):
    library = _copy(trained, tmp_path)
    skill = SkillLibrary(library).load("go_to")
    legacy = SkillNetwork(hidden=32, routes=False)
    folder = SkillLibrary(library).save(legacy, skill.card)
    card = json.loads((folder / "card.json").read_text())
    del card["network"]["routes"]  # as cards written before route features were
    (folder / "card.json").write_text(json.dumps(card))
    loaded = SkillLibrary(library).load("go_to")
    env, memory = _started("Foreman-GoToLocal-v0", seed=5)
    subgoal = env.unwrapped.subgoal
    assert loaded.network.routes is False
    with torch.no_grad():
        assert torch.equal(
            loaded.action_distribution(memory, subgoal),
            TrainedSkill(skill.card, legacy).action_distribution(memory, subgoal),
        )


@pytest.mark.parametrize("corruption", ["{not json", '{"name": "go_to"}', ""])
def test_corrupt_cards_are_rejected_naming_the_file(trained, tmp_path, corruption):
    library = _copy(trained, tmp_path)
    (library / "go_to" / "card.json").write_text(corruption)
    with pytest.raises(SkillLoadError, match="card.json is not a valid skill card"):
        SkillLibrary(library).load("go_to")
    cards, problems = SkillLibrary(library).scan()
    assert "go_to" not in [c.name for c in cards] and "go_to/card.json is not a valid skill card" in problems[0]


def test_unknown_skill_lists_what_there_is(trained):
    library, _ = trained
    with pytest.raises(SkillLoadError, match="no skill 'goto'.*Did you mean: go_to"):
        SkillLibrary(library).load("goto")


def _dropped_in(library, name: str, **changes) -> None:
    shutil.copytree(library / "go_to", library / name)
    card_path = library / name / "card.json"
    card_path.write_text(json.dumps(json.loads(card_path.read_text()) | {"name": name} | changes))


def test_a_dropped_in_skill_is_listed_without_code_changes(trained, tmp_path, capsys):
    """A skill of a kind it declares itself is listed and loads; a second skill for a kind
    already served is left out, and the problem names its card."""
    library = _copy(trained, tmp_path)
    kind = {"name": "walk_to", "says": "walk to {target}", "arguments": [{"name": "target", "type": "object"}]}
    _dropped_in(library, "walk_to", subgoal="walk_to", kind=kind | {"check": {"facing": "target"}})
    _dropped_in(library, "go_to_again")
    assert main(["skills", "list", "--library", str(library), "--json"]) == 0
    names = [c["name"] for c in json.loads(capsys.readouterr().out)]
    assert names == ["go_to", "walk_to"]
    assert SkillLibrary(library).load("walk_to").card.kind.says == "walk to {target}"
    _, problems = SkillLibrary(library).scan()
    assert problems == [f"{library / 'go_to_again' / 'card.json'}: the skill 'go_to' already does 'go_to'"]
    assert main(["skills", "list", "--library", str(tmp_path / "nowhere")]) == 0


@pytest.mark.parametrize(
    ("kind", "wrong"),
    [
        ({"arguments": [{"name": "target", "type": "lamp"}]}, "type"),
        ({"check": {"entry": "no_such_module:check"}}, "does not import"),
        ({"check": {"facing": "other"}}, "does not declare"),
    ],
)
def test_a_skill_folder_that_cannot_be_used_is_named_and_the_rest_loads(trained, tmp_path, kind, wrong):
    library = _copy(trained, tmp_path)
    declared = {"name": "walk_to", "says": "walk to {target}", "arguments": [{"name": "target", "type": "object"}]}
    _dropped_in(library, "walk_to", subgoal="walk_to", kind=declared | {"check": {"facing": "target"}} | kind)
    cards, problems = SkillLibrary(library).scan()
    assert [c.name for c in cards] == ["go_to"]
    assert len(problems) == 1 and "walk_to/card.json" in problems[0] and wrong in problems[0], problems


def test_a_skill_refuses_a_subgoal_of_another_kind(trained):
    library, _ = trained
    skill = SkillLibrary(library).load("go_to")
    env, memory = _started("Foreman-PickupLocal-v0", seed=1)
    with pytest.raises(ValueError, match="executes 'go_to', not 'pick_up'"):
        skill.act(memory, env.unwrapped.subgoal)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_ppo_update_changes_every_parameter_and_stays_finite(workers):
    torch.manual_seed(0)
    network = SkillNetwork(hidden=32)
    before = {k: v.clone() for k, v in network.state_dict().items()}
    config = PPOConfig(frames=64, envs=4, rollout=16, epochs=1, minibatch=64, workers=workers)
    stats = finetune(network, "Foreman-GoToLocal-v0", config)
    assert stats.frames == 64 and all(np.isfinite([stats.policy_loss, stats.value_loss, stats.entropy]))
    assert [k for k, v in network.state_dict().items() if torch.equal(v, before[k])] == []


def test_the_value_warmup_trains_the_value_head_alone_and_leaves_the_policy_as_it_was():
    torch.manual_seed(0)
    network = SkillNetwork(hidden=32)
    before = {k: v.clone() for k, v in network.state_dict().items()}
    config = PPOConfig(frames=64, envs=4, rollout=16, epochs=1, minibatch=64, value_warmup=64)
    finetune(network, "Foreman-GoToLocal-v0", config)
    moved = {k.split(".")[0] for k, v in network.state_dict().items() if not torch.equal(v, before[k])}
    assert moved == {"critic"}


def test_ppo_logs_cleanrls_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    torch.manual_seed(0)
    writer = SummaryWriter(str(tmp_path))
    config = PPOConfig(frames=128, envs=2, rollout=64, epochs=1, minibatch=64, shaping=0.5)
    finetune(SkillNetwork(hidden=32), "Foreman-DropLocal-v0", config, writer)
    writer.close()
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    expected = {"losses/policy_loss", "losses/value_loss", "losses/entropy", "losses/approx_kl", "losses/clipfrac"}
    assert expected | {"losses/explained_variance", "charts/SPS"} <= tags
    assert {"charts/success_rate", "charts/episodic_return"} <= tags  # drop episodes end within 128 frames


def test_worker_processes_sample_the_same_envs_as_one_process_joined_in_env_order():
    network = SkillNetwork(hidden=32)
    local = Sampler("Foreman-GoToLocal-v0", range(7, 11)).collect(network, 3)
    parallel = ParallelSampler("Foreman-GoToLocal-v0", range(7, 11), workers=2, shape=network.config())
    try:
        joined = parallel.collect(network, 3)
    finally:
        parallel.close()
    assert joined.keys() == local.keys()
    assert all(joined[k].shape == local[k].shape for k in local if k != "outcomes")
    assert joined["cells"].shape[:2] == (3, 4)
    # the first observation of each env depends only on its seed, whoever steps it
    np.testing.assert_array_equal(joined["cells"][0], local["cells"][0])
    np.testing.assert_allclose(joined["value"][0], local["value"][0], atol=1e-5)


def test_ppo_refuses_envs_that_do_not_split_over_its_workers():
    with pytest.raises(ValueError, match="split evenly"):
        finetune(SkillNetwork(hidden=32), "Foreman-GoToLocal-v0", PPOConfig(frames=64, envs=3, workers=2))


def test_the_teacher_puts_down_what_it_holds_before_a_pickup_and_then_succeeds():
    from foreman.skills.train import Teacher

    env = make_env("Foreman-Pickup-v0")
    held = 0
    for seed in range(30):
        env.reset(seed=seed)
        carried = env.unwrapped.carrying
        teacher, action, done, actions = Teacher(env), None, False, []
        while not done:
            action = teacher.act(action)
            actions.append(action)
            _, reward, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
        assert reward > 0
        if carried is not None:
            held += 1
            assert actions.index(4) < actions.index(3)  # drop comes before pickup
    assert held >= 3


def test_dagger_labels_the_states_the_skill_visits(trained):
    from foreman.skills.train import collect_labels

    library, _ = trained
    skill = SkillLibrary(library).load("go_to")
    labels, seen = collect_labels(skill, "Foreman-GoToLocal-v0", range(3))
    assert 0 < len(labels["action"]) <= seen
    assert set(labels) == {"cells", "flags", "coarse", "vector", "action"}
    assert labels["action"].max() < 6


def test_fitting_the_critic_moves_only_the_critic_toward_the_policys_success_rate(trained):
    from foreman.skills.critic import CriticConfig, fit_critic

    library, _ = trained
    skill = SkillLibrary(library).load("go_to")
    before = {k: v.clone() for k, v in skill.network.state_dict().items()}
    env, memory = _started("Foreman-GoToLocal-v0", seed=5)
    actions_before = skill.action_distribution(memory, env.unwrapped.subgoal)
    fit = fit_critic(skill, "Foreman-GoToLocal-v0", CriticConfig(episodes=12, held_out=4, seed=40_000_000, workers=1))
    changed = {k for k, v in skill.network.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith("critic.") for k in changed)
    assert torch.equal(skill.action_distribution(memory, env.unwrapped.subgoal), actions_before)
    assert fit.states > fit.episodes and fit.seeds == (40_000_000, 40_000_015)
    # a least-squares fit with a bias lands near the success rate on average
    values = []
    for seed in range(40_000_000, 40_000_004):
        env, memory = _started("Foreman-GoToLocal-v0", seed=seed)
        values.append(skill.value(memory, env.unwrapped.subgoal))
    assert abs(float(np.mean(values)) - fit.success_rate) < 0.25


def test_the_cli_fits_a_critic_and_stores_it_on_the_card(trained, tmp_path, capsys):
    library, card = trained
    copy = tmp_path / "library"
    shutil.copytree(library, copy)
    args = ["skills", "fit-critic", "go_to", "--episodes", "4", "--held-out", "2", "--workers", "1"]
    assert main([*args, "--library", str(copy), "--json"]) == 0
    fit = json.loads(capsys.readouterr().out)["training"]["critic"]
    stored = SkillLibrary(copy).load("go_to").card
    assert stored.training.critic.model_dump(mode="json") == fit and fit["episodes"] == 4
    assert stored.weights_sha256 != card.weights_sha256 and stored.evaluation == card.evaluation


@pytest.mark.parametrize("deterministic", [True, False])
def test_a_skill_never_walks_into_what_blocks_it(trained, deterministic):
    """A policy that always wants forward turns or acts otherwise in front of a box (forward
    there changes nothing), and walks on where the way is free."""
    library, _ = trained
    skill = SkillLibrary(library).load("go_to")
    with torch.no_grad():
        last = skill.network.actor[-1]
        last.weight.zero_()
        last.bias.copy_(torch.tensor([0.0, 0.0, 20.0, 0.0, 0.0, 0.0, 0.0][: last.bias.numel()]))
    subgoal = GoTo(target=ObjectDesc(type="ball"))
    for blocked in (True, False):
        env = TinyRoom({(2, 2): Box("yellow")} if blocked else {}, agent=(1, 2))
        memory = AgentMemory()
        memory.observe(env.reset(seed=0)[0])
        actions = {skill.act(memory, subgoal, deterministic=deterministic) for _ in range(5)}
        assert (2 in actions) is not blocked, (blocked, actions)


def test_a_drop_that_cannot_happen_is_told_from_one_that_can():
    from foreman.skills.observation import observe
    from foreman.skills.skill import drop_blocked

    env = make_env("MiniGrid-Empty-5x5-v0")
    obs, _ = env.reset(seed=0)
    base = env.unwrapped
    memory = AgentMemory()
    memory.observe(obs)
    target = GoTo(target=ObjectDesc(type="door"))
    assert drop_blocked(observe(memory, target))  # empty hands
    base.carrying = Box("red")
    base.agent_pos, base.agent_dir = np.array((1, 1)), 2  # facing the west wall
    obs = base.gen_obs()
    memory = AgentMemory()
    memory.observe(obs)
    assert drop_blocked(observe(memory, target))  # a wall ahead
    base.agent_dir = 1  # facing south: free floor
    memory = AgentMemory()
    memory.observe(base.gen_obs())
    assert not drop_blocked(observe(memory, target))
