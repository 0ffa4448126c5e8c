"""The tasks bench: tasks other than the world's mission, judged by BabyAI's verifier built from them."""

import json

import numpy as np

from foreman.bench.tasks import TasksBenchConfig, bench_tasks, bot_steps, sample_task, summarise
from foreman.envs import clauses_in_order, make_env


def test_a_sampled_task_is_not_the_mission_and_the_bot_can_do_it():
    env = make_env("BabyAI-PickupLoc-v0")
    env.reset(seed=7)
    mission = env.unwrapped.mission
    task = sample_task(env, "BabyAI-PickupLoc-v0", np.random.default_rng(7), avoid=mission)
    assert task.kind == "pick_up" and task.to_text() != mission
    assert isinstance(bot_steps("BabyAI-PickupLoc-v0", 7, task), int)


def test_a_later_task_never_asks_for_what_is_already_so():
    """After earlier tasks opened every door, no sampled task asks to open one (BabyAI's
    sampler, made for fresh worlds, would)."""
    from foreman.envs import parse_mission

    env = make_env("BabyAI-BossLevel-v0")
    env.reset(seed=7)
    base = env.unwrapped
    for obj in base.grid.grid:
        if obj is not None and obj.type == "door":
            obj.is_open, obj.is_locked = True, False
    rng = np.random.default_rng(0)
    for _ in range(40):
        task = parse_mission(sample_task(env, "BabyAI-BossLevel-v0", rng, avoid="").to_text())
        for clause in clauses_in_order(task):
            assert clause.kind != "open", task.to_text()


def _task(success: bool, reported: bool, steps: int, bot: int | None) -> dict:
    return {
        "part": "task",
        "level": "L",
        "worded": "mission language",
        "success": success,
        "reported": reported,
        "false_claim": reported and not success,
        "steps": steps,
        "bot_steps": bot,
        "done_at": None,
        "llm_calls": 1,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "wall_s": 1.0,
        "end_reason": "success" if reported else "replan budget",
    }


def test_the_summary_counts_false_claims_and_compares_steps_only_where_both_succeeded():
    rows = [_task(True, True, 12, 10), _task(False, True, 5, 5), _task(False, False, 900, 10)]
    rows.append(_task(True, True, 8, None))
    level = summarise(rows)["levels"]["L"]
    assert level["success"]["count"] == 2 and level["reported"]["count"] == 3
    assert level["false_claims"] == 1 and summarise(rows)["false_claims"] == 1
    assert level["steps_vs_bot"] == 1.2 and level["bot_failed"] == 1


def test_a_small_run_judges_each_task_by_its_own_verifier_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("FOREMAN_HOME", str(tmp_path / "home"))
    config = TasksBenchConfig(
        levels=["BabyAI-GoToLocal-v0", "BabyAI-PickupLoc-v0"],
        tasks=2,
        paraphrase=0.0,
        sessions=1,
        session_tasks=2,
        refusals=False,
        out=tmp_path / "run",
        results=tmp_path / "results",
    )
    summary = bench_tasks(config)
    rows = [json.loads(line) for line in (tmp_path / "run" / "tasks.jsonl").read_text().splitlines()]
    tasks = [r for r in rows if r["part"] == "task"]
    assert [r["seed"] for r in tasks] == [7_000_000, 7_000_001, 7_000_002, 7_000_003]  # one world each
    assert [r["seed"] for r in rows if r["part"] == "session"] == [7_000_004]
    for row in tasks:
        assert row["goal"] == row["task"] != row["mission"]
        assert row["false_claim"] == (row["reported"] and not row["success"])
        if row["reported"]:
            assert row["check"] == "verifier" and row["done_at"] is not None
    assert summary["tasks"] == 4 and len(rows[-1]["tasks"]) == 2
    assert list((tmp_path / "results").glob("*.json"))
    bench_tasks(config)  # every row is there: nothing runs again
    assert len((tmp_path / "run" / "tasks.jsonl").read_text().splitlines()) == len(rows)
