"""The real agent: the packaged language model plans, the shipped skills act, the env judges."""

import json

from foreman.cli import main


def test_foreman_run_solves_a_user_worded_goal(capsys):
    assert (
        main(["run", "grab the green key on your right", "--env", "BabyAI-PickupLoc-v0", "--seed", "2000001", "--json"])
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["success"] and result["end_reason"] == "success" and result["reward"] > 0
    assert result["mission"] == "pick up a green key on your right"
    assert result["plans"][0]["attempts"][0]["raw"] == "pick_up(the green key on your right)"
    assert result["subgoals"][0]["skill"] == "pick_up" and result["subgoals"][0]["status"] == "succeeded"
    assert result["llm_calls"] == 1 and result["steps"] == len(result["subgoals"][0]["actions"])
