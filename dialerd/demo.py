"""The demo: dialerd dialling a campaign against the simulated Asterisk, on a temporary store.

It sets a campaign up with the real administration commands (printing each), starts the
simulated Asterisk on a free loopback port with customers drawn from the benchmark's
model, runs the real daemon against it for a while (simulated time runs faster than the
clock), shows the calls as they happen, and ends with the campaign's figures. Everything
lives in a temporary directory that is removed at the end.
"""

from __future__ import annotations

import asyncio
import random
import shlex
import sqlite3
import tempfile
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table

from dialerd import app, cli
from dialerd.config import Config, parse_config
from dialerd.sim.asterisk import SimAsterisk
from dialerd.sim.scenario import Scenario

AGENTS = tuple(str(1001 + i) for i in range(10))
CONTACTS = 2000
DNC = ("+12125550107", "+12125550150")
SPEED = 0.05  # simulated time runs 20 times faster than the clock


def _contacts_csv(path: Path, rng: random.Random) -> None:
    first = ("Ada", "Alan", "Grace", "Edsger", "Barbara", "Ken", "Donald", "Frances")
    lines = ["phone,first_name,segment"]
    for i in range(CONTACTS):
        number = f"(212) 555-{100 + i:04d}" if i % 2 else f"+1 212 555 {100 + i:04d}"
        lines.append(f"{number},{rng.choice(first)},{rng.choice(['gold', 'silver'])}")
    lines.append("not-a-number,Broken,row")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _setup(db: Path, root: Path, console: Console) -> None:
    rng = random.Random(7)
    _contacts_csv(root / "contacts.csv", rng)
    (root / "dnc.csv").write_text("tel\n" + "\n".join(DNC) + "\n", encoding="utf-8")
    steps = [
        "campaign create Demo --dial-mode predictive --max-attempts 3"
        " --timezone UTC --local-hours 00:00-24:00 --wrapup-limit-s 10",
        "campaign hours Demo 'mon-sun 00:00-24:00'",
        *(f"agent add {a} --name Agent-{a} --endpoint Local/{a}@sim-agents" for a in AGENTS),
        f"agent assign Demo {' '.join(AGENTS)}",
        f"contacts import Demo {root / 'contacts.csv'}",
        f"dnc upload {root / 'dnc.csv'} --name demo-list",
        "result add Demo Sale --contact --complete --success",
        "campaign activate Demo",
        "campaign start Demo",
    ]
    for step in steps:
        console.print(f"[bold]$ dialerd {step}[/bold]")
        code = cli.main(["--json", "--db", str(db), *shlex.split(step)])
        if code != 0:
            raise SystemExit(code)


def lab_config(node: str, db: Path, port: int, secret: str, *, drain_timeout_s: float) -> Config:
    """The daemon's configuration against a lab Asterisk on this machine's loopback (the
    simulated one, or a private real one): one AMI server, agents logged in automatically,
    customers dialled as ``Local/<digits>@sim-pstn``."""
    return parse_config(
        f'node_name = "{node}"\n[store]\npath = "{db}"\n'
        f'[[ami.servers]]\nname = "lab"\nport = {port}\nsecret = {{ value = "{secret}" }}\n'
        '[engine]\nauto_agents = true\nroute = "Local/{digits}@sim-pstn"\n'
        f"drain_timeout_s = {drain_timeout_s}\n"
    )


def _figures(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT coalesce(outcome, 'in progress'), count(*) FROM calls GROUP BY 1"
        ).fetchall()
        refused = conn.execute("SELECT count(*) FROM refusals").fetchone()[0]
    figures = {str(k): int(v) for k, v in rows}
    figures["refused at the gate"] = int(refused)
    return figures


def _table(figures: dict[str, int], elapsed: float) -> Table:
    table = Table(title=f"dialerd demo — {elapsed:4.0f} s")
    table.add_column("calls")
    table.add_column("count", justify="right")
    for key in sorted(figures):
        table.add_row(key, str(figures[key]))
    live = figures.get("answered_agent", 0) + figures.get("abandoned", 0)
    if live:
        table.add_row("abandon rate", f"{figures.get('abandoned', 0) / live:.1%}")
    return table


async def _run(root: Path, db: Path, seconds: float, console: Console) -> dict[str, int]:
    sim = SimAsterisk(
        behaviour="dialerd",
        scenario=Scenario(),
        seed=11,
        time_scale=SPEED,
        secret="demo",  # noqa: S106 - the simulator's throwaway login
    )
    await sim.start()
    config = lab_config("demo", db, sim.port, "demo", drain_timeout_s=10)
    stop = asyncio.Event()
    daemon = asyncio.create_task(app.run(config, stop=stop))
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        with Live(console=console, refresh_per_second=2) as live:
            while loop.time() - started < seconds and not daemon.done():
                live.update(_table(_figures(db), loop.time() - started))
                await asyncio.wait({daemon}, timeout=0.5)
        stop.set()
        await daemon
    finally:
        await sim.stop()
    return _figures(db)


def run_demo(seconds: float = 20.0) -> int:
    """Run the demo; returns 0 on success."""
    console = Console()
    with tempfile.TemporaryDirectory(prefix="dialerd-demo-") as tmp:
        root = Path(tmp)
        db = root / "demo.sqlite3"
        _setup(db, root, console)
        console.print(
            f"\nDialling for {seconds:.0f} s against the simulated Asterisk"
            f" (simulated time runs {1 / SPEED:.0f}x faster)…"
        )
        from dialerd import log  # noqa: PLC0415 - quiet the daemon's log for the demo

        log.configure("error", "console")
        figures = asyncio.run(_run(root, db, seconds, console))
        console.print(_table(figures, seconds))
        console.print("\n[bold]$ dialerd contacts list Demo --limit 5[/bold]")
        cli.main(["--db", str(db), "contacts", "list", "Demo", "--limit", "5"])
    placed = sum(v for k, v in figures.items() if k != "refused at the gate")
    return 0 if placed else 1
