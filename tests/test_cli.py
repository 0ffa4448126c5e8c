import json

import pytest

from foreman.cli import main
from foreman.envs import make_env


def test_describe_prints_mission_clauses_and_knowledge(capsys):
    assert main(["describe", "--env", "BabyAI-BossLevel-v0", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "Mission: pick up a purple ball and open a red door" in out
    assert "1. pick up a purple ball" in out and "2. open a red door" in out
    assert "You see: a green key (2 right)" in out


def test_describe_json(capsys):
    assert main(["describe", "--env", "BabyAI-GoToLocal-v0", "--seed", "3", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["env_id"] == "BabyAI-GoToLocal-v0" and record["seed"] == 3
    assert record["instruction"]["kind"] == "go_to"
    assert record["description"].startswith("You carry nothing.")


def test_parse_json_and_clauses(capsys):
    assert main(["parse", "--json", "open a door after you go to the red ball"]) == 0
    tree = json.loads(capsys.readouterr().out)["instruction"]
    assert tree["kind"] == "after" and tree["first"]["kind"] == "go_to"
    assert main(["parse", "open a door after you go to the red ball"]) == 0
    assert capsys.readouterr().out == "1. go to the red ball\n2. open a door\n"


def test_bad_input_is_a_clear_error_not_a_traceback(capsys):
    assert main(["parse", "go to the red bal"]) == 2
    assert "character 14" in capsys.readouterr().err
    assert main(["describe", "--env", "BabyAI-BossLevl-v0"]) == 2
    assert "Did you mean: BabyAI-BossLevel-v0" in capsys.readouterr().err


def test_envs_lists_foreman_ids(capsys):
    assert main(["envs", "--prefix", "Foreman-", "--json"]) == 0
    ids = json.loads(capsys.readouterr().out)
    assert len(ids) == 12 and "Foreman-PutNextLocal-v0" in ids and "Foreman-MixedTestLocal-v0" in ids


def test_skills_eval_reports_success_on_the_seeds_asked(capsys):
    assert main(["skills", "eval", "go_to", "--episodes", "3", "--seed", "5", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["skill"] == "go_to" and record["episodes"] == 3 and record["seeds"] == [5, 7]
    assert 0 <= record["success_rate"] <= 1 and record["env_id"] == "Foreman-GoTo-v0"


def test_run_without_env_finds_a_level_whose_mission_is_the_goal_or_says_what_to_do():
    from foreman.envs.levels import NoMatchingLevelError, find_level

    env_id, seed = find_level("go to the red ball")
    obs, _ = make_env(env_id).reset(seed=seed)
    assert obs["mission"] == "go to the red ball"
    with pytest.raises(NoMatchingLevelError, match="not a BabyAI mission.*--env"):
        find_level("fetch me a coffee")


def test_finetune_sft_reads_a_mix_of_levels_and_refuses_a_malformed_one(capsys):
    from foreman.cli import parse_command

    argv = ["finetune", "sft", "--levels", "BabyAI-BossLevel-v0=0.7, BabyAI-GoToSeq-v0=0.3", "--init-adapter", "a"]
    _, config, _ = parse_command(argv)
    assert config.data.levels == {"BabyAI-BossLevel-v0": 0.7, "BabyAI-GoToSeq-v0": 0.3}
    assert str(config.init_adapter) == "a" and config.data.examples == 1000  # the recipe's own default
    with pytest.raises(SystemExit):
        parse_command(["finetune", "sft", "--levels", "BabyAI-BossLevel-v0"])
    assert "--levels" in capsys.readouterr().err


def test_options_come_from_the_configs_with_their_docstrings_and_defaults(capsys):
    """--help shows each field's docstring and its default, from the dataclass alone."""
    from foreman.evaluation import EvalConfig

    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "0 turns replanning off (default: 3)" in help_text
    assert f"(default: {EvalConfig().seed:,})" in help_text
    with pytest.raises(SystemExit):
        main(["eval", "--planner", "oracle"])
    assert "invalid choice: 'oracle'" in capsys.readouterr().err


def test_every_command_builds_its_options_and_its_functions_exist():
    from foreman.cli import COMMANDS, _loaded, build_parser

    for command in COMMANDS:
        build_parser(command.words.split())  # the config's fields all make options
        for name in (command.config, command.main, command.text):
            assert callable(_loaded(command, name)), (command.words, name)


def test_the_cli_reference_in_docs_is_what_the_configs_make(monkeypatch):
    from pathlib import Path

    from foreman.cli import reference

    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("HOME", "/home/you")  # the user's folder as a reader's would be
    monkeypatch.delenv("FOREMAN_HOME")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    written = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text()
    assert written == reference(), "regenerate: COLUMNS=100 python -c 'from foreman.cli import reference; ...'"
