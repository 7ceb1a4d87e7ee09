"""Running and importing the scripts of ``scripts/`` as their users and each other do."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def import_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` imported as the scripts import each other."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def run_script(name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python scripts/<name>.py ARGS`` from the repository root, one worker."""
    return subprocess.run(
        [sys.executable, f"scripts/{name}.py", "--workers", "1", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
