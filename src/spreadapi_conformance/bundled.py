"""Where the project's data folders (fixtures, notebooks) are: configured, packaged, or in the repository."""

from __future__ import annotations

import os
from pathlib import Path


def bundled_dir(name: str, env: str) -> Path:
    """``$env``, else the copy inside an installed wheel (``_name``), else the repository's ``name`` folder."""
    if configured := os.environ.get(env):
        return Path(configured)
    packaged = Path(__file__).resolve().parent / f"_{name}"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / name
