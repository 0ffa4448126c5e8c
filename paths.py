"""Where foreman writes: a user data folder, never the installed package.

The package's own skills, adapter, prompts and goal sets are read-only defaults. Runs, traces,
trained skills, adapters and benchmark output go to the folder a command is given, or else under
``$FOREMAN_HOME`` (default ``$XDG_DATA_HOME/foreman``, i.e. ``~/.local/share/foreman``).
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir() -> Path:
    """The user's foreman folder (not created here: whoever writes makes what it needs)."""
    if os.environ.get("FOREMAN_HOME"):
        return Path(os.environ["FOREMAN_HOME"]).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(xdg) / "foreman"


def user_path(*parts: str) -> Path:
    """A path under the user's foreman folder, e.g. ``user_path("runs", "eval")``."""
    return data_dir().joinpath(*parts)
