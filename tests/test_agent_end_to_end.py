"""The real agent: the packaged language model plans, the shipped skills act, the env judges."""

import json

from foreman.cli import main
from foreman.traces import read_trace
from foreman.traces.replay import replay


def test_foreman_run_solves_a_user_worded_goal_and_its_trace_replays(capsys, tmp_path):
    trace = tmp_path / "run.jsonl"
    argv = ["run", "grab the green key on your right", "--env", "BabyAI-PickupLoc-v0", "--seed", "2000001"]
    assert main([*argv, "--trace", str(trace), "--json"]) == 0
    session = json.loads(capsys.readouterr().out)
    assert session["success"] and len(session["tasks"]) == 1
    result = session["tasks"][0]
    assert result["success"] and result["end_reason"] == "success" and result["check"] == "plan"
    assert result["mission_done"] and result["reward"] > 0  # the world's mission, which the goal rewords
    assert result["mission"] == "pick up a green key on your right"
    assert result["plans"][0]["attempts"][0]["raw"] == "pick_up(the green key on your right)"
    assert result["subgoals"][0]["skill"] == "pick_up" and result["subgoals"][0]["status"] == "succeeded"
    assert result["llm_calls"] == 1 and result["steps"] == len(result["subgoals"][0]["actions"])
    events = read_trace(trace).events
    assert [e.event for e in events][:2] == ["episode_start", "plan"] and events[-1].event == "episode_end"
    assert replay(events).matches


def test_an_interactive_session_reads_tasks_a_line_each_and_keeps_the_world(capsys, monkeypatch, tmp_path):
    import io

    trace = tmp_path / "session.jsonl"
    monkeypatch.setattr("sys.stdin", io.StringIO("pick up the red ball\n\ngo to the yellow box\n"))
    argv = ["run", "-i", "--env", "BabyAI-PickupLoc-v0", "--seed", "11", "--trace", str(trace)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("SUCCESS") == 2 and "task 2" in out and "2 of 2 tasks done." in out
    from foreman.traces.file import episodes
    from foreman.traces.replay import session_of

    grouped = episodes(read_trace(trace).events)
    assert [e.task for e in (grouped[0][0], grouped[1][0])] == [0, 1]
    assert replay(grouped[1], before=session_of(grouped, 1)).matches
