"""foreman sweep: training configs from a file, run by two workers, each saving its own card."""

import json

import pytest

from foreman.errors import ForemanError
from foreman.skills import SkillLibrary
from foreman.sweep import SweepConfig, sweep, sweep_text

TINY = {"env_id": "Foreman-GoToLocal-v0", "demos": 20, "epochs": 1, "batch": 64, "hidden": 16, "workers": 1}
TINY |= {"eval_episodes": 2, "critic_episodes": 4}


def _file(tmp_path, *lines):
    path = tmp_path / "configs.jsonl"
    path.write_text("\n".join(json.dumps(line) if isinstance(line, dict) else line for line in lines) + "\n")
    return path


def test_two_runs_in_two_workers_save_two_cards_and_a_second_sweep_skips_them(tmp_path):
    configs = _file(tmp_path, TINY | {"seed": 0}, TINY | {"seed": 1000, "hidden": 8})
    rows = sweep(SweepConfig(configs, workers=2, threads=1, out=tmp_path / "sweep"))
    assert [r["run"] for r in rows] == [0, 1] and all("card" in r for r in rows)
    cards = [SkillLibrary(tmp_path / "sweep" / str(n) / "skills").load("go_to").card for n in (0, 1)]
    assert [str(c.training.config["hidden"]) for c in cards] == ["16", "8"]
    assert (tmp_path / "sweep" / "0" / "tb" / "go_to").is_dir()
    assert "go_to" in sweep_text(rows)
    again = sweep(SweepConfig(configs, workers=2, out=tmp_path / "sweep"))
    assert again == rows
    assert len((tmp_path / "sweep" / "runs.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [("{not json", "run 2: not JSON"), ({"skill": "go_to", "learning_rate": 1}, "run 2: no `foreman train` option")],
)
def test_a_bad_line_is_named_before_anything_trains(tmp_path, line, message):
    configs = _file(tmp_path, TINY, line)
    with pytest.raises(ForemanError, match=message):
        sweep(SweepConfig(configs, out=tmp_path / "sweep"))
    assert not (tmp_path / "sweep" / "runs.jsonl").exists()
