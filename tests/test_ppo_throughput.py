"""The PPO throughput benchmark runs foreman's PPO and SB3's on the same network and level."""

import json

import pytest
import torch

from foreman.bench.ppo_throughput import SkillPolicy, ThroughputConfig, run, table
from foreman.skills import SkillLibrary


def test_both_trainers_run_the_same_frames_and_the_result_is_written(tmp_path):
    result = run(ThroughputConfig(frames=64, envs=4, rollout=16, workers=2, out=tmp_path))
    assert {result[k]["frames"] for k in ("foreman", "sb3_dummy", "sb3_subproc")} == {64}
    fastest_sb3 = max(result["sb3_dummy"]["fps"], result["sb3_subproc"]["fps"])
    assert result["ratio"] == pytest.approx(result["foreman"]["fps"] / fastest_sb3)
    written = json.loads((tmp_path / "ppo_go_to_64_w2.json").read_text())
    assert written["summary"]["ratio"] == result["ratio"] and written["artifacts"]["skill:go_to"]
    assert written["command"] == "foreman bench ppo --frames 64 --envs 4 --rollout 16"
    assert "ratio foreman / faster SB3" in table(result)


def test_frames_must_fill_whole_rollouts():
    with pytest.raises(ValueError, match="multiple of envs x rollout"):
        run(ThroughputConfig(frames=100, envs=4, rollout=16, out=None))


def test_the_sb3_policy_is_the_skill_network_itself():
    """SB3 trains exactly the shipped network: same parameters, same logits and values."""
    import gymnasium as gym
    from stable_baselines3.common.utils import ConstantSchedule

    from foreman.bench.ppo_throughput import MemoryObservation
    from foreman.envs import make_env

    network = SkillLibrary().load("go_to").network
    env = MemoryObservation(make_env("Foreman-GoTo-v0"))
    policy = SkillPolicy(env.observation_space, gym.spaces.Discrete(6), ConstantSchedule(1e-4), network=network)
    assert list(policy.parameters()) == list(network.parameters())
    obs, _ = env.reset(seed=3)
    batch = {k: torch.as_tensor(v)[None] for k, v in obs.items()}
    logits, value = network(**batch)
    values, logprob, _ = policy.evaluate_actions(batch, torch.tensor([2]))
    assert values.item() == pytest.approx(value.item(), abs=1e-6)
    assert logprob.item() == pytest.approx(torch.log_softmax(logits, 1)[0, 2].item(), abs=1e-6)
