"""Evals spread over workers: local processes and a real Ray instance give the rows of one process;
a worker killed mid-run loses only its episode in flight, and --resume finishes with any count."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from foreman.errors import ForemanError
from foreman.evaluation import EvalConfig, run
from foreman.workers import Pool, WorkersDied


class Square:
    """A worker for the pool's own tests (module level, so spawned processes can import it)."""

    def __call__(self, job):
        if job == "boom":
            raise ValueError("a job that fails")
        return job * job, os.getpid()


def test_pool_in_processes_returns_every_result_once_from_several_workers():
    pool = Pool(workers=2, threads=1)
    results = dict(pool.run(Square, {key: key for key in range(20)}))
    assert {key: value for key, (value, _) in results.items()} == {key: key * key for key in range(20)}
    assert len({pid for _, pid in results.values()}) == 2
    assert sum(r.jobs for r in pool.reports) == 20 and all(r.peak_rss_mb > 0 for r in pool.reports)


def test_a_failing_job_stops_the_run_with_the_workers_traceback():
    with pytest.raises(RuntimeError, match="a job that fails"):
        dict(Pool(workers=2, threads=1).run(Square, {0: 1, 1: "boom", 2: 3}))


def test_zero_workers_is_refused():
    with pytest.raises(ForemanError, match="at least 1"):
        Pool(workers=0)


def _config(out: Path, **kw) -> EvalConfig:
    fields = {"env_id": "BabyAI-GoToLocal-v0", "episodes": 8, "planner": "reference", "out": out}
    return EvalConfig(**(fields | kw))


def _rows(folder: Path) -> list[dict]:
    rows = [json.loads(line) for line in (folder / "episodes.jsonl").read_text().splitlines()]
    return sorted(({k: v for k, v in r.items() if k != "wall_s"} for r in rows), key=lambda r: r["index"])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_head(monkeypatch):
    """A Ray head on 127.0.0.1 with 2 CPUs, for this test only; stopped with it. Token authentication
    (on by default for `ray start` in the Ray pinned here) is off: the test is its only client."""
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    port = _free_port()
    ray = shutil.which("ray", path=str(Path(sys.executable).parent))
    assert ray, "the test install includes foreman[ray]"
    head = subprocess.Popen(
        [ray, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "2"]
        + ["--include-dashboard=false", "--disable-usage-stats"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.5)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        head.send_signal(signal.SIGTERM)
        head.wait(timeout=60)


def test_rows_are_identical_for_one_process_two_workers_and_ray(tmp_path, ray_head):
    one = run(_config(tmp_path / "one"), progress=False)
    two = run(_config(tmp_path / "two", workers=2), progress=False)
    on_ray = run(_config(tmp_path / "ray", workers=2, ray_address=ray_head), progress=False)
    assert _rows(tmp_path / "one") == _rows(tmp_path / "two") == _rows(tmp_path / "ray")
    assert [r["index"] for r in _rows(tmp_path / "one")] == list(range(8))
    strip = lambda s: {k: v for k, v in s.items() if "wall" not in k and k != "per_episode"}  # noqa: E731
    assert strip(one[0]) == strip(two[0]) == strip(on_ray[0])
    reports = json.loads((tmp_path / "ray" / "workers.json").read_text())
    assert [r["jobs"] for r in reports] and sum(r["jobs"] for r in reports) == 8
    assert all(r["where"].startswith("ray actor") for r in reports)


def test_a_killed_worker_loses_only_its_episode_and_resume_finishes_with_another_count(tmp_path):
    import multiprocessing

    folder = tmp_path / "killed"
    outcome: list[BaseException] = []

    def evaluate() -> None:
        try:
            run(_config(folder, episodes=24, workers=2), progress=False)
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            outcome.append(error)

    thread = threading.Thread(target=evaluate)
    thread.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(_rows_if_any(folder)) < 3:
        time.sleep(0.05)
    workers = [p for p in multiprocessing.active_children() if p.name.startswith("worker-")]
    assert len(workers) == 2, "the eval's two workers are running"
    os.kill(workers[0].pid, signal.SIGKILL)
    thread.join(timeout=180)
    [error] = outcome
    assert isinstance(error, ForemanError) and "--resume" in str(error) and "1 job(s) lost" in str(error)
    assert len(_rows(folder)) == 23  # the other worker ran every other episode
    run(_config(folder, episodes=24, workers=1, resume=True), progress=False)
    run(_config(tmp_path / "whole", episodes=24), progress=False)
    assert _rows(folder) == _rows(tmp_path / "whole")


def _rows_if_any(folder: Path) -> list[str]:
    path = folder / "episodes.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def test_workers_died_names_the_lost_jobs():
    error = WorkersDied({7: "worker 1 (pid 42) ended with exit code -9"})
    assert error.lost == {7: "worker 1 (pid 42) ended with exit code -9"} and "job 7" in str(error)
