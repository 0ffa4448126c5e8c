"""foreman eval: summaries, goals files, resume after a kill, ablations, determinism."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from foreman import evaluation as agent_bench
from foreman.cli import main
from foreman.evaluation import EvalConfig, GoalsFileError, episode_specs, run
from foreman.traces import episodes, read_trace


@pytest.fixture
def tiny(monkeypatch, tiny_library):
    """Evals in this file use the small test library instead of the shipped one."""
    monkeypatch.setattr(agent_bench, "SkillLibrary", lambda: tiny_library)


def _config(tmp_path, **kw):
    return EvalConfig(
        **({"env_id": "BabyAI-GoToLocal-v0", "episodes": 3, "planner": "reference", "out": tmp_path} | kw)
    )


def test_eval_summarises_and_writes_rows_and_a_trace(tiny, tmp_path):
    [summary] = run(_config(tmp_path), progress=False)
    for key in (
        "episodes",
        "success_rate",
        "success_ci",
        "mean_steps",
        "median_llm_calls",
        "mean_prompt_tokens",
        "median_wall_s",
        "per_episode",
        "failures",
        "p95_steps",
    ):
        assert key in summary
    assert summary["episodes"] == 3 and summary["seeds"] == [2_000_000, 2_000_002]
    assert "reference (privileged)" in summary["agent"]
    low, high = summary["success_ci"]
    assert low <= summary["success_rate"] <= high
    rows = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert [r["index"] for r in rows] == [0, 1, 2]
    assert sorted(episodes(read_trace(tmp_path / "trace.jsonl").events)) == [0, 1, 2]
    with pytest.raises(Exception, match="--resume"):
        run(_config(tmp_path), progress=False)


def test_same_seeds_same_config_same_results(tiny, tmp_path):
    first = run(_config(tmp_path / "a"), progress=False)[0]["per_episode"]
    second = run(_config(tmp_path / "b"), progress=False)[0]["per_episode"]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]  # noqa: E731
    assert strip(first) == strip(second)


def test_resume_runs_only_what_is_missing(tiny, tmp_path):
    run(_config(tmp_path, episodes=2), progress=False)
    lines = (tmp_path / "episodes.jsonl").read_text().splitlines()
    (tmp_path / "episodes.jsonl").write_text(lines[0] + "\n" + lines[1][:20])  # killed while writing row 1
    [summary] = run(_config(tmp_path, episodes=4, resume=True), progress=False)
    assert [r["index"] for r in summary["per_episode"]] == [0, 1, 2, 3]
    starts = [e for e in read_trace(tmp_path / "trace.jsonl").events if e.event == "episode_start"]
    assert [e.episode for e in starts] == [0, 1, 1, 2, 3]  # episode 0 was not run again


def test_goals_file(tiny, tmp_path):
    goals = tmp_path / "goals.jsonl"
    goals.write_text(
        json.dumps({"env_id": "BabyAI-GoToLocal-v0", "seed": 5, "goal": "walk over to the ball"})
        + "\n"
        + json.dumps({"env_id": "BabyAI-GoToObj-v0", "seed": 6, "goal": "find the key"})
        + "\n"
    )
    summaries = run(_config(tmp_path / "run", goals=goals), progress=False)
    assert [s["level"] for s in summaries] == ["BabyAI-GoToLocal-v0", "BabyAI-GoToObj-v0"]
    assert summaries[0]["per_episode"][0]["goal"] == "walk over to the ball"
    goals.write_text('{"env_id": "BabyAI-GoToLocal-v0"}\n')
    with pytest.raises(GoalsFileError, match="goals.jsonl:1: expected"):
        episode_specs(_config(tmp_path, goals=goals))
    goals.write_text('{"env_id": "BabyAI-Nope-v0", "seed": 1}\n')
    with pytest.raises(Exception, match="unknown env id"):
        episode_specs(_config(tmp_path, goals=goals))


def test_bot_baseline_and_bot_skills(tiny, tmp_path):
    [bot] = run(_config(tmp_path / "bot", env_id="BabyAI-BossLevel-v0", baseline="bot"), progress=False)
    assert bot["success_rate"] == 1.0 and bot["median_llm_calls"] == 0 and "bot alone" in bot["agent"]
    [oracle] = run(_config(tmp_path / "oracle", env_id="BabyAI-GoToLocal-v0", skills="bot"), progress=False)
    assert oracle["success_rate"] == 1.0 and "skills bot (privileged)" in oracle["agent"]


def test_injected_faults_are_recorded_and_the_eval_goes_on(tiny, tmp_path):
    [summary] = run(_config(tmp_path, skills="bot", fault_rate=1.0, max_replans=1), progress=False)
    assert summary["episodes"] == 3 and "faults 100%" in summary["agent"]
    assert all(r["failures"] for r in summary["per_episode"] if not r["success"])


def test_eval_cli_rejects_unknown_levels(capsys):
    assert main(["eval", "--env", "BabyAI-Nope-v0"]) == 2
    assert "unknown env id" in capsys.readouterr().err


def test_kill_9_loses_at_most_the_episode_in_flight_and_resume_completes(tmp_path):
    """With the shipped skills and the reference planner (no language model), in a subprocess."""
    command = [
        sys.executable,
        "-m",
        "foreman.cli",
        "eval",
        "--env",
        "BabyAI-GoToLocal-v0",
        "--episodes",
        "30",
        "--planner",
        "reference",
        "--out",
        str(tmp_path),
        "--json",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = tmp_path / "episodes.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and (not rows.exists() or len(rows.read_text().splitlines()) < 3):
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = len(rows.read_text().splitlines())
    assert 3 <= done < 30
    finished = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    (summary,) = json.loads(finished.stdout)
    assert [r["index"] for r in summary["per_episode"]] == list(range(30))


def test_the_balrog_suite_runs_every_task_kind_and_averages_them(tmp_path):
    config = EvalConfig(suite="balrog-babyai", split="test", episodes=2, seed=7, baseline="bot", out=tmp_path)
    specs = episode_specs(config)
    assert len(specs) == 10 and {s.task for s in specs} == {"goto", "pickup", "open", "putnext", "pick_up_seq_go_to"}
    glam = episode_specs(EvalConfig(suite="balrog-babyai", episodes=1, setting="glam"))
    assert glam[0].options == {"task": "goto", "setting": "glam"}
    summaries = run(config, progress=False)
    assert [s["level"] for s in summaries][-1] == "balrog-babyai (test, balrog) overall"
    assert summaries[-1]["episodes"] == 10 and summaries[-1]["success_rate"] == 1.0
    assert summaries[0]["level"] == "Foreman-MixedTestLocal-v0:goto" and summaries[0]["mean_steps"] <= 100


def test_resume_refuses_a_run_folder_of_another_config_or_planner(tiny, tmp_path):
    run(_config(tmp_path, episodes=1), progress=False)
    with pytest.raises(Exception, match="another config or planner"):
        run(_config(tmp_path, episodes=1, max_replans=0, resume=True), progress=False)
    stored = json.loads((tmp_path / "config.json").read_text())
    assert stored["planner_identity"] == "reference"
    (tmp_path / "config.json").write_text(json.dumps({**stored, "planner_identity": "some older planner"}))
    with pytest.raises(Exception, match="another config or planner"):
        run(_config(tmp_path, episodes=1, resume=True), progress=False)


def test_the_llm_planners_identity_is_its_adapters_weights():
    from foreman.planner.builtin import DEFAULT_ADAPTER
    from foreman.planner.tuning.adapter import load_card

    identity = agent_bench.planner_identity(EvalConfig(planner="llm"))
    assert load_card(DEFAULT_ADAPTER).sha256 in identity
    assert agent_bench.planner_identity(EvalConfig(planner="base", model="m")) == "m"


def test_another_adapter_is_named_in_the_identity_label_and_run_folder(tmp_path):
    import shutil

    from foreman.planner.builtin import DEFAULT_ADAPTER

    other = tmp_path / "candidate-lora"
    shutil.copytree(DEFAULT_ADAPTER, other)
    config = EvalConfig(planner="llm", adapter=other)
    assert agent_bench.planner_identity(config).startswith("candidate-lora sha256 ")
    assert "candidate-lora" in config.label and config.folder().name.endswith("llm-learned-candidate-lora_r3")
    assert "candidate-lora" not in EvalConfig(planner="llm").folder().name


def test_the_bot_oracle_frees_its_hands_before_a_pick_up():
    """The bot cannot pick up while holding something; as an oracle skill it puts the object down
    first (before, it idled until the step budget)."""
    from minigrid.core.world_object import Ball

    from foreman.bench.oracle import BotSkill
    from foreman.envs import AgentMemory, PickUp, SubgoalDetector, current_pose, make_env, parse_mission

    env = make_env("BabyAI-PickupLoc-v0")
    obs, _ = env.reset(seed=4)
    subgoal = parse_mission(obs["mission"])
    assert isinstance(subgoal, PickUp)
    held = "purple" if subgoal.target.color != "purple" else "grey"
    env.unwrapped.carrying = Ball(held)
    memory, skill = AgentMemory(), BotSkill("pick_up", env)
    memory.observe(env.unwrapped.gen_obs())
    detector = SubgoalDetector(subgoal, env, anchor=current_pose(env))
    for _ in range(60):
        action = skill.act(memory, subgoal)
        obs, *_ = env.step(action)
        memory.observe(obs, action)
        detector.step(action)
        if detector.status != "continue":
            break
    assert detector.status == "success"


def test_paired_comparison_counts_the_episodes_that_changed_and_tests_them(tiny, tmp_path, capsys):
    from foreman.bench.paired import compare, mcnemar_exact

    run(_config(tmp_path / "before", episodes=4), progress=False)
    run(_config(tmp_path / "after", episodes=3, fault_rate=1.0, max_replans=0), progress=False)
    before = [json.loads(line) for line in (tmp_path / "before" / "episodes.jsonl").read_text().splitlines()]
    after = [json.loads(line) for line in (tmp_path / "after" / "episodes.jsonl").read_text().splitlines()]
    result = compare(tmp_path / "before", tmp_path / "after")
    assert result["episodes"] == 3  # only the episodes both ran
    assert result["successes_before"] == sum(r["success"] for r in before[:3])
    assert result["successes_after"] == sum(r["success"] for r in after)
    lost = [
        [r["env_id"], r["seed"], r["goal"]]
        for r, s in zip(before[:3], after, strict=True)
        if r["success"] and not s["success"]
    ]
    assert result["lost"] == lost and result["success_to_failure"] == len(lost) > 0
    assert main(["bench", "paired", str(tmp_path / "before"), str(tmp_path / "after")]) == 0
    assert f"{len(lost)} success->failure" in capsys.readouterr().out
    assert mcnemar_exact(0, 5) == 2 / 32 and mcnemar_exact(2, 3) == 1.0 and mcnemar_exact(7, 1) == 2 * 9 / 256
    assert mcnemar_exact(0, 0) == 1.0
    assert main(["bench", "paired", str(tmp_path / "before"), str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_classics_suite_plays_each_classic_task_from_the_same_seeds():
    from foreman.envs import make_env
    from foreman.envs.classics import CLASSICS

    config = EvalConfig(suite="minigrid-classics", episodes=2, seed=5)
    specs = episode_specs(config)
    assert [(s.env_id, s.seed) for s in specs[:3]] == [(CLASSICS[0], 5), (CLASSICS[0], 6), (CLASSICS[1], 5)]
    assert len(specs) == 2 * len(CLASSICS) and config.folder().name.startswith("minigrid-classics_s5_n2_")
    for env_id in CLASSICS:
        make_env(env_id)  # each is registered by the installed minigrid
