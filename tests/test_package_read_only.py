"""Nothing writes into the installed package: runs, traces, skills and results go to the user's
folder (``$FOREMAN_HOME``) or the one given on the command line."""

import json
import os

import pytest

from foreman.cli import main
from foreman.paths import PACKAGE_DIR
from foreman.skills import BUILT_IN_LIBRARY, SkillLibrary, SkillLoadError

SKIPPED = {".venv", ".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "foreman.egg-info"}


def _files() -> dict[str, float]:
    found = {}
    for folder, dirs, files in os.walk(PACKAGE_DIR):
        dirs[:] = [d for d in dirs if d not in SKIPPED]
        for name in files:
            path = os.path.join(folder, name)
            found[path] = os.stat(path).st_mtime
    return found


def test_commands_write_under_the_user_folder_and_never_under_the_package(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("FOREMAN_HOME", str(home))
    monkeypatch.chdir(PACKAGE_DIR)  # a relative default would land in the package from here
    before = _files()
    assert main(["eval", "--env", "BabyAI-GoToLocal-v0", "--episodes", "2", "--planner", "reference", "--json"]) == 0
    (summary,) = json.loads(capsys.readouterr().out)
    traces = list((home / "runs" / "eval").glob("*/trace.jsonl"))
    assert summary["episodes"] == 2 and len(traces) == 1
    assert main(["trace", "html", str(traces[0]), "-o", str(tmp_path / "report.html"), "--no-frames"]) == 0
    args = ["skills", "eval", "go_to", "--episodes", "1", "--workers", "1"]
    assert main(args) == 0
    assert _files() == before


def test_the_built_in_library_is_read_only():
    library = SkillLibrary()
    skill = library.load("go_to")
    with pytest.raises(SkillLoadError, match="read-only"):
        library.save(skill.network, skill.card)
    assert library.root == BUILT_IN_LIBRARY
