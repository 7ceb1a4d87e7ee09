"""The README's examples run as written, so they cannot drift from the code."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from dialerd.cli import main

README = Path(__file__).parent.parent / "README.md"


def usage_commands() -> list[list[str]]:
    """The ``dialerd …`` commands of the README's "Using it" block, split like a shell."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"## Using it.*?```sh\n(.*?)```", text, re.S)
    assert block is not None
    joined = block.group(1).replace("\\\n", " ")
    commands = []
    for raw in joined.splitlines():
        line = raw.split("#")[0].strip()
        for part in line.split("&&"):
            words = shlex.split(part)
            if words:
                assert words[0] == "dialerd"
                commands.append(words[1:])
    return commands


def test_the_set_up_commands_are_the_scripts_ci_runs() -> None:
    """The README names exactly the demo and the test script, and CI runs the latter."""
    text = README.read_text(encoding="utf-8")
    assert re.findall(r"^\./scripts/\w+$", text, re.M) == ["./scripts/demo", "./scripts/test"]
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "./scripts/test" in ci


def test_the_usage_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each administration example succeeds on a fresh store (the daemon line is skipped)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "leads.csv").write_text("Tel,name\n212 555 0101,Ann\n", encoding="utf-8")
    (tmp_path / "national-dnc.csv").write_text("tel\n2125550199\n", encoding="utf-8")
    db = str(tmp_path / "readme.sqlite3")
    commands = usage_commands()
    assert any(c[-1] == "run" for c in commands)
    for words in commands:
        if words[-1] == "run":
            continue
        assert main(["--db", db, *words]) == 0, (words, capsys.readouterr().err)
