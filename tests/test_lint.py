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
