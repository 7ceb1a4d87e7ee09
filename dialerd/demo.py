"""A walk through dialerd's administration on a temporary SQLite store.

It runs the real ``dialerd`` commands in-process, prints each one and its output, and
removes the store at the end, so a new user sees what the product does in one go.
"""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path

from dialerd import cli

_CONTACTS = """phone,first_name,last_name,email,owner,segment
+1 212 555 0101,Ada,Lovelace,ada@example.com,,gold
(212) 555-0102,Alan,Turing,alan@example.com,1001,silver
212-555-0101,Ada,,ada.l@example.com,,
not-a-number,Bad,Row,,,
+1 415 555 0199,Grace,Hopper,grace@example.com,1002,gold
"""
_DNC = "tel\n2125550102\n+14155550100\n12345\n"


def run_demo() -> int:
    """Run the walk-through; returns the exit code of the first failing step, or 0."""
    with tempfile.TemporaryDirectory(prefix="dialerd-demo-") as tmp:
        root = Path(tmp)
        db = root / "demo.sqlite3"
        (root / "contacts.csv").write_text(_CONTACTS, encoding="utf-8")
        (root / "dnc.csv").write_text(_DNC, encoding="utf-8")
        steps = [
            "campaign create Spring-Renewals --dial-mode progressive --max-attempts 3"
            " --timezone America/New_York --default-region US --holiday-country US"
            " --caller-id +12125550000",
            "campaign hours Spring-Renewals 'mon-fri 09:00-18:00' 'sat 10:00-14:00'",
            "campaign window Spring-Renewals add 2026-12-01 2026-12-31 --note 'December batch'",
            "campaign exception Spring-Renewals add 2026-12-24 --open 09:00-12:00",
            "agent add 1001 --name Alice --endpoint PJSIP/1001 --email alice@example.com",
            "agent add 1002 --name Bob --endpoint PJSIP/1002",
            "agent assign Spring-Renewals 1001 1002",
            f"contacts import Spring-Renewals {root / 'contacts.csv'}",
            "contacts list Spring-Renewals",
            "contacts list Spring-Renewals --field segment=gold",
            "contacts reassign Spring-Renewals --owner 1001 --to 1002",
            f"dnc upload {root / 'dnc.csv'} --name national",
            "dnc check '(212) 555-0102' --campaign Spring-Renewals",
            "result add Spring-Renewals Sale --contact --complete --success",
            "result add Spring-Renewals 'Call back' --contact",
            "campaign activate Spring-Renewals",
            "campaign show Spring-Renewals",
        ]
        for step in steps:
            print(f"\n$ dialerd {step}", flush=True)
            code = cli.main(["--db", str(db), *shlex.split(step)])
            if code not in (0, 3):  # 3: "dnc check" found the number, as the demo intends
                return code
    return 0
