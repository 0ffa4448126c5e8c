"""The code style is checked, not discussed: ruff's lint rules and formatter (pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_lint_passes():
    check = subprocess.run([sys.executable, "-m", "ruff", "check", str(ROOT)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


def test_ruff_format_is_clean():
    check = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", str(ROOT)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout


def test_mypy_finds_no_type_error():
    """The package is type-checked (pyproject.toml's [tool.mypy]: strict at the seams)."""
    check = subprocess.run([sys.executable, "-m", "mypy"], capture_output=True, text=True, cwd=ROOT)
    assert check.returncode == 0, check.stdout[-4000:]
