"""The ``dialerd`` command line, run in-process on real SQLite files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dialerd.cli import main
from tests.conftest import dump


class Cli:
    """Runs ``dialerd --db FILE …`` and captures its output."""

    def __init__(self, db: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.db = db
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main(["--db", str(self.db), *args])
        out = self.capsys.readouterr()
        return code, out.out, out.err

    def json(self, *args: str) -> Any:
        code, out, err = self("--json", *args)
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def cli(db_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """A CLI bound to a fresh database file."""
    return Cli(db_path, capsys)


def test_campaign_life_cycle_in_json(cli: Cli) -> None:
    """Create, list, edit, activate, show and delete, each answering in JSON."""
    made = cli.json("campaign", "create", "Spring", "--dial-mode", "power", "--power-ratio", "2")
    assert (made["id"], made["state"], made["dial_mode"]) == (1, "inactive", "power")
    assert [c["name"] for c in cli.json("campaign", "list")] == ["Spring"]
    assert cli.json("campaign", "edit", "Spring", "--max-attempts", "7")["max_attempts"] == 7
    assert cli.json("campaign", "activate", "1")["state"] == "active"
    shown = cli.json("campaign", "show", "Spring")
    assert (shown["state"], shown["contacts"], shown["business_hours"]) == ("active", 0, [])
    assert cli.json("campaign", "delete", "Spring") == {"deleted": 1, "name": "Spring"}
    assert cli.json("campaign", "list") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["campaign", "show", "nope"], "no campaign 'nope'"),
        (["campaign", "create", "x", "--max-attempts", "0"], "max_attempts: must be at least 1"),
        (["campaign", "create", "x" * 101], "name: must be 1 to 100 characters"),
        (["campaign", "hours", "1", "monday 9-5"], "hours 'monday 9-5': write it like"),
        (["contacts", "import", "x", "/nonexistent.csv"], "no campaign 'x'"),
        (["dnc", "upload", "/nonexistent.csv", "--name", "n"], "/nonexistent.csv: no such file"),
        (["dnc", "check", "12", "--region", "US"], "wrong length for its country"),
        (["agent", "add", "a b", "--endpoint", "PJSIP/1"], "id: 1 to 32 letters"),
    ],
)
def test_errors_are_one_line_with_status_1_and_change_nothing(
    cli: Cli, db_path: Path, args: list[str], message: str
) -> None:
    """Bad input prints one line naming what is wrong, exits 1, and leaves the store alone."""
    cli("campaign", "create", "base")
    before = dump(db_path)
    code, _out, err = cli(*args)
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith("dialerd: error: ")
    assert message in err
    assert dump(db_path) == before


def test_predictive_amd_whose_false_positives_reach_the_target_is_warned_of(cli: Cli) -> None:
    """AMD's default false-positive estimate (5 %) is over a 3 % target: the campaign is
    saved, and the user is told on stderr that it will dial progressively; a measured
    estimate under the target, or another mode, is not warned of."""
    code, out, err = cli(
        "--json", "campaign", "create", "a", "--dial-mode", "predictive", "--amd-enabled", "true"
    )
    assert code == 0
    assert json.loads(out)["amd_false_positive_rate"] == 0.05
    assert err.startswith("dialerd: warning: amd_false_positive_rate 0.05 is at or above")
    assert "dial progressively" in err
    code, _, err = cli("campaign", "edit", "a", "--amd-false-positive-rate", "0.01")
    assert (code, err) == (0, "")
    code, _, err = cli("campaign", "edit", "a", "--abandon-target", "0.01")
    assert code == 0 and "at or above abandon_target 0.01" in err
    code, _, err = cli(
        "campaign", "create", "b", "--dial-mode", "progressive", "--amd-enabled", "true"
    )
    assert (code, err) == (0, "")


def test_schedule_commands(cli: Cli) -> None:
    """Hours, exceptions, windows and holidays are set and shown per campaign."""
    cli("campaign", "create", "c", "--holiday-country", "JP")
    hours = cli.json("campaign", "hours", "c", "mon-fri 09:00-18:00")
    assert hours[0] == {"day": "mon", "start": "09:00", "end": "18:00"}
    assert len(hours) == 5
    ex = cli.json("campaign", "exception", "c", "add", "2026-12-31", "--note", "closing")
    assert ex == [{"date": "2026-12-31", "closed": True, "open": None, "note": "closing"}]
    ex = cli.json("campaign", "exception", "c", "add", "2026-12-30", "--open", "10:00-12:00")
    assert ex[0]["open"] == "10:00-12:00"
    assert len(cli.json("campaign", "exception", "c", "remove", "2026-12-31")) == 1
    windows = cli.json("campaign", "window", "c", "add", "2026-12-01", "2026-12-20")
    assert windows[0]["start"] == "2026-12-01"
    assert cli.json("campaign", "window", "c", "remove", str(windows[0]["id"])) == []
    days = cli.json("campaign", "holidays", "c", "--year", "2026")
    assert {"date": "2026-01-01", "name": "元日"} in days or days[0]["date"] == "2026-01-01"
    assert cli.json("campaign", "hours", "c", "--clear") == []


def test_contacts_import_filter_act_and_export(cli: Cli, tmp_path: Path) -> None:
    """Import a CSV, filter it, act on the filtered set and export it."""
    src = tmp_path / "c.csv"
    src.write_text(
        "tel,name,tier\n+12125550101,Ann,gold\n+12125550102,Bo,silver\n+12125550103,Cy,gold\n"
        "oops,Dee,gold\n",
        encoding="utf-8",
    )
    cli("campaign", "create", "c")
    cli("campaign", "create", "d")
    cli("agent", "add", "a1", "--endpoint", "PJSIP/1001", "--email", "a1@example.com")
    report = cli.json("contacts", "import", "c", str(src), "--map", "first_name=name")
    assert (report["imported"], report["rejected"]) == (3, 1)
    errors = Path(report["error_csv"])
    assert errors == tmp_path / "c.errors.csv"
    assert "phone: not a phone number" in errors.read_text(encoding="utf-8")
    gold = cli.json("contacts", "list", "c", "--field", "tier=gold")
    assert [c["first_name"] for c in gold] == ["Ann", "Cy"]
    assert cli.json(
        "contacts", "set-owner", "c", "--field", "tier=gold", "--to", "a1@example.com"
    ) == {"changed": 2}
    assert cli.json("contacts", "count", "c", "--owner", "a1")["count"] == 2
    assert cli.json("contacts", "copy", "c", "--owner", "a1", "--to", "d")["imported"] == 2
    assert cli.json("contacts", "trash", "c", "--unowned") == {"changed": 1}
    assert cli.json("contacts", "count", "c")["count"] == 2
    assert cli.json("contacts", "restore", "c") == {"changed": 1}
    out = tmp_path / "out.csv"
    assert cli("contacts", "export", "c", "--owner", "a1", "-o", str(out))[0] == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("id,phone,first_name")
    assert lines[0].endswith(",tier")
    assert [line.split(",")[1] for line in lines[1:]] == ["+12125550101", "+12125550103"]


def test_dnc_upload_check_list_and_delete(cli: Cli, tmp_path: Path) -> None:
    """A number on the global list is reported blocked (exit 3) until the list is deleted."""
    src = tmp_path / "dnc.csv"
    src.write_bytes("tel\r\n2125550101\r\n123\r\n".encode("cp932"))
    cli("campaign", "create", "c")
    report = cli.json("dnc", "upload", str(src), "--name", "national")
    assert (report["stored"], report["rejected"]) == (1, 1)
    code, out, _ = cli("--json", "dnc", "check", "(212) 555-0101", "--campaign", "c")
    assert code == 3
    assert json.loads(out)["blocked"] is True
    lists = cli.json("dnc", "list")
    assert [(x["name"], x["numbers"]) for x in lists] == [("national", 1)]
    cli("dnc", "delete", str(lists[0]["id"]))
    code, out, _ = cli("--json", "dnc", "check", "+12125550101")
    assert code == 0
    assert json.loads(out)["blocked"] is False


def test_results_and_agents(cli: Cli) -> None:
    """Results keep flags and order; agents are assigned and copied between campaigns."""
    cli("campaign", "create", "a")
    cli("campaign", "create", "b")
    cli("result", "add", "a", "Sale", "--contact", "--complete", "--success")
    results = cli.json("result", "add", "a", "Later", "--contact", "--memo", "call back")
    assert [(r["name"], r["is_success"], r["display_order"]) for r in results] == [
        ("Sale", True, 1),
        ("Later", False, 2),
    ]
    results = cli.json("result", "edit", "a", str(results[1]["id"]), "--order", "0")
    assert [r["name"] for r in results] == ["Later", "Sale"]
    assert len(cli.json("result", "delete", "a", str(results[0]["id"]))) == 1
    cli("agent", "add", "1001", "--endpoint", "PJSIP/1001")
    cli("agent", "add", "1002", "--endpoint", "PJSIP/1002")
    assert cli.json("agent", "assign", "a", "1001", "1002")["agents"] == ["1001", "1002"]
    assert cli.json("agent", "copy-assignments", "a", "b")["agents"] == ["1001", "1002"]
    assert cli.json("agent", "unassign", "b", "1001")["agents"] == ["1002"]
    assert [a["id"] for a in cli.json("agent", "list", "--campaign", "b")] == ["1002"]


def test_call_history_lists_blocked_and_placed_calls(cli: Cli) -> None:
    """``dialerd calls`` shows a campaign's history; an empty one is an empty list."""
    cli("campaign", "create", "c")
    assert cli.json("calls", "c") == []
    code, _, err = cli("calls", "nope")
    assert code == 1
    assert "no campaign 'nope'" in err


def test_the_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """The README's demo sets a campaign up, dials it against the simulator and reports."""
    assert main(["demo", "--seconds", "4"]) == 0
    out = capsys.readouterr().out
    assert "$ dialerd campaign start Demo" in out
    assert "dialerd demo" in out
    assert "$ dialerd contacts list Demo --limit 5" in out


def test_the_console_script_is_installed() -> None:
    """``python -m dialerd`` with no command prints help and exits 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "dialerd"], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2
    assert "campaign" in proc.stderr


@pytest.mark.parametrize("argv", [["--help"], ["ami-check", "--help"]])
def test_help_reads_as_text_not_docstring_markup(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The help a user reads is drawn from docstrings, without their ``code`` quotes."""
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "dialerd" in out
    assert "``" not in out
