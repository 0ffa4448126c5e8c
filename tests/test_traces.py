"""Planning traces: what is written, replay, malformed files, summary and the HTML report."""

import json

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from foreman.cli import main
from foreman.envs import make_env
from foreman.orchestrator import Agent, AgentConfig
from foreman.planner import LLMPlanner, PrivilegedReferencePlanner
from foreman.traces import (
    EpisodeEnd,
    EpisodeStart,
    Feedback,
    PlanMade,
    SubgoalEnd,
    SubgoalStart,
    TraceWriter,
    episodes,
    read_trace,
)
from foreman.traces.html import render_html
from foreman.traces.replay import replay
from foreman.traces.summary import records, summary

UNREACHABLE = "go_to(the grey door)"  # GoToLocal has a single room: no door


@pytest.fixture(scope="module")
def trace(tiny_library, tmp_path_factory):
    """Episodes 0-3 with the reference planner, episode 4 with a planner that must replan."""
    path = tmp_path_factory.mktemp("trace") / "trace.jsonl"
    env = make_env("BabyAI-GoToLocal-v0")
    with TraceWriter(path) as writer:
        agent = Agent(PrivilegedReferencePlanner(env), tiny_library, AgentConfig(subgoal_steps=30))
        for episode in range(4):
            agent.run(env, seed=100 + episode, trace=writer, episode=episode)
        planner = LLMPlanner(FakeListChatModel(responses=["dance()", UNREACHABLE, UNREACHABLE, "go_to(the ball)"]))
        Agent(planner, tiny_library, AgentConfig(subgoal_steps=5, max_replans=1)).run(
            env, seed=200, trace=writer, episode=4
        )
    return path


def test_every_decision_is_an_event_in_order(trace):
    read = read_trace(trace)
    assert read.problems == []
    grouped = episodes(read.events)
    assert sorted(grouped) == [0, 1, 2, 3, 4]
    for events in grouped.values():
        assert isinstance(events[0], EpisodeStart) and isinstance(events[-1], EpisodeEnd)
        assert isinstance(events[1], PlanMade)
        starts = [e for e in events if isinstance(e, SubgoalStart)]
        ends = [e for e in events if isinstance(e, SubgoalEnd)]
        assert [e.index for e in starts] == [e.index for e in ends] == list(range(len(starts)))
        assert sum(e.steps for e in ends) == events[-1].steps
        assert all(len(e.actions) == e.steps for e in ends)
    start = grouped[4][0]
    assert start.seed == 200 and start.mission and start.skills["go_to"] and "FakeListChatModel" in start.planner
    plans = [e for e in grouped[4] if isinstance(e, PlanMade)]
    assert plans[0].reason == "initial" and plans[0].attempts[0].error and plans[0].attempts[1].raw == UNREACHABLE
    assert plans[1].reason == "replan" and "ran out of steps" in plans[1].why
    assert plans[0].user_message and plans[0].prompt_sha256
    feedback = [e for e in grouped[4] if isinstance(e, Feedback)]
    assert feedback and feedback[0].text == plans[1].why
    assert grouped[4][-1].end_reason == "replan budget"


def test_replay_reproduces_every_recorded_episode(trace):
    for events in episodes(read_trace(trace).events).values():
        result = replay(events)
        assert result.matches, result.mismatches


def test_replay_reports_a_mismatch(trace):
    events = episodes(read_trace(trace).events)[0]
    end = events[-1]
    tampered = events[:-1] + [end.model_copy(update={"steps": end.steps + 1, "success": not end.success})]
    result = replay(tampered)
    assert not result.matches
    assert any(m.startswith("steps: recorded") for m in result.mismatches)
    assert any(m.startswith("success: recorded") for m in result.mismatches)


def test_a_cut_short_trace_keeps_its_readable_part_and_names_the_bad_lines(trace, tmp_path):
    lines = trace.read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    unknown = json.loads(lines[0]) | {"v": 99}
    missing = {k: v for k, v in json.loads(lines[1]).items() if k != "template"}
    broken.write_text("\n".join([*lines[:5], json.dumps(unknown), json.dumps(missing), lines[5][:40]]))
    read = read_trace(broken)
    assert len(read.events) == 5
    assert read.problems[0].endswith(":6: trace version 99; this foreman reads version 1")
    assert ":7: invalid plan event: template: Field required" in read.problems[1]
    assert ":8: not JSON (cut short?)" in read.problems[2]
    with TraceWriter(broken) as writer:  # appending after a cut-off line starts a new line
        writer.write(read.events[0])
    assert len(read_trace(broken).events) == 6


def test_summary_blames_planning_or_execution(trace):
    result = summary(read_trace(trace).events)
    assert result["episodes"] == 5 and result["unfinished_episodes"] == []
    failed = 5 - round(result["success_rate"] * 5)
    assert sum(result["failed_episodes_blamed_on"].values()) == failed >= 1
    assert result["failed_episodes_blamed_on"]["execution"] >= 1  # episode 4's unreachable door
    assert result["subgoals_by_skill"]["go_to"]["ran out of steps"] >= 2
    rows = records(read_trace(trace).events)
    assert all(r["env_id"] == "BabyAI-GoToLocal-v0" for r in rows) and len(rows) == len(read_trace(trace).events)


def test_html_report_has_plans_timeline_and_frames(trace):
    read = read_trace(trace)
    page = render_html(read.events, ["x.jsonl:9: not JSON"], title="t")
    assert page.count('<section class="episode"') == 5
    assert page.count('class="timeline"') == 5 and page.count("data:image/png;base64,") >= 10
    assert "Replan (" in page and "dance()" in page and "x.jsonl:9: not JSON" in page
    assert "http://" not in page and "https://" not in page  # self-contained


def test_trace_commands(trace, tmp_path, capsys):
    assert main(["trace", "replay", str(trace), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reproduced"] == 5
    gif = tmp_path / "e.gif"
    assert main(["trace", "replay", str(trace), "--episode", "1", "--gif", str(gif)]) == 0
    assert gif.read_bytes()[:6] == b"GIF89a"
    capsys.readouterr()
    assert main(["trace", "summary", str(trace), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["episodes"] == 5
    report = tmp_path / "r.html"
    assert main(["trace", "html", str(trace), "-o", str(report)]) == 0
    assert report.stat().st_size > 10_000
    assert main(["trace", "replay", str(trace), "--episode", "9"]) == 2
    assert main(["trace", "summary", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read trace" in capsys.readouterr().err


def test_html_report_renders_in_headless_chromium(trace, tmp_path):
    """Debian's chromium, installed by the project's set-up (make), loads the file offline."""
    import shutil
    import subprocess

    import numpy as np
    from PIL import Image

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser, "chromium is missing: `make test` installs Debian's chromium package"
    report = tmp_path / "report.html"
    assert main(["trace", "html", str(trace), "-o", str(report)]) == 0
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run([*flags, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.stdout.count('<section class="episode"') == 5 and dom.stdout.count("<img") >= 10
    shot = tmp_path / "shot.png"
    subprocess.run(
        [*flags, f"--screenshot={shot}", "--window-size=1200,1600", report.as_uri()], capture_output=True, timeout=120
    )
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20, "the screenshot is blank"
