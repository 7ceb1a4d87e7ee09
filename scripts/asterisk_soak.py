"""Run the real dialerd daemon, in predictive mode, against a private real Asterisk.

Where ``scripts/asterisk_check.py`` checks the shipped configuration one call at a time,
this runs the whole product against a real Asterisk for some minutes: the daemon as
``dialerd run`` runs it (store, AMI pool, engine, predictive pacer), a campaign set up with
the administration commands, agents logged in as ``Local`` channels that answer and stay,
and a lab far end whose numbers each, at random, answer as a person (a short tone and
silence, for 15-45 s) or a machine (a long tone, 20 s) after 2-26 s of ringing, are busy,
or ring until given up. Answers after 15 s of ringing are there so that the pacer's
taking back of ringing calls is exercised too.

    python scripts/asterisk_soak.py --asterisk /usr/sbin/asterisk \\
        --modules /usr/lib/asterisk/modules --data /usr/share/asterisk --minutes 10

It needs the modules ``asterisk_check.py`` loads and ``func_rand``. At the end it prints
the calls by outcome and how they ended (the ``OriginateResponse`` reason, ``DialEnd``
status and hangup cause), the abandon rate, and the calls taken back while ringing, and
exits 0 when every call placed has ended and at least one reached an agent.

With ``--record FILE`` the daemon's AMI traffic goes through a small proxy that writes
every chunk, each way, as ``asterisk_check.py --record`` does (one JSON object per line:
``t`` seconds since the connection opened, ``dir`` ``in`` or ``out``, ``data``), so that
the order Asterisk sent a call's events in can be read afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import shlex
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asterisk_check import (
    SECRET,
    add_asterisk_arguments,
    connect,
    private_asterisk,
    write_recording,
)

from dialerd import app, cli, log
from dialerd.demo import lab_config

# The far end: R picks the outcome (35 % person, 15 % machine, 8 % busy, the rest ring on).
SOAK_DIALPLAN = """
[sim-pstn]
exten => _X.,1,Set(R=${RAND(1,100)})
 same => n,GotoIf($[${R} <= 35]?person)
 same => n,GotoIf($[${R} <= 50]?machine)
 same => n,GotoIf($[${R} <= 58]?busy)
 same => n,Ringing()
 same => n,Wait(120)
 same => n,Hangup()
 same => n(person),Ringing()
 same => n,Wait(${RAND(2,26)})
 same => n,Answer()
 same => n,Playtones(440/600,0/60000)
 same => n,Wait(${RAND(15,45)})
 same => n,Hangup()
 same => n(machine),Ringing()
 same => n,Wait(${RAND(2,26)})
 same => n,Answer()
 same => n,Playtones(440/60000)
 same => n,Wait(20)
 same => n,Hangup()
 same => n(busy),Busy()

[sim-agents]
exten => _X.,1,Answer()
 same => n,Wait(86400)
"""
CONTACTS = 5000
ENDED = "SELECT coalesce(outcome, 'in progress'), reason, dial_status, cause, count(*) FROM calls"


def set_up(db: Path, root: Path, agents: int, amd: bool) -> None:
    """The campaign, its agents and contacts, with the administration commands."""
    ids = [str(1001 + i) for i in range(agents)]
    numbers = [f"+1 212 555 {1000 + i:04d}" for i in range(CONTACTS)]
    (root / "contacts.csv").write_text("phone\n" + "\n".join(numbers) + "\n", encoding="utf-8")
    steps = [
        "campaign create Soak --dial-mode predictive --max-attempts 1 --timezone UTC"
        " --local-hours 00:00-24:00 --wrapup-limit-s 5 --ring-timeout-s 30"
        # The lab's tones are told apart every time; the default estimate (5 %) would be
        # over the 3 % target and keep an AMD campaign progressive (docs/pacing.md, AMD).
        f" --amd-enabled {str(amd).lower()} --amd-false-positive-rate 0.01",
        "campaign hours Soak 'mon-sun 00:00-24:00'",
        *(f"agent add {a} --name Agent-{a} --endpoint Local/{a}@sim-agents" for a in ids),
        f"agent assign Soak {' '.join(ids)}",
        f"contacts import Soak {root / 'contacts.csv'}",
        "campaign activate Soak",
        "campaign start Soak",
    ]
    for step in steps:
        print(f"$ dialerd {step}", flush=True)
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = cli.main(["--json", "--db", str(db), *shlex.split(step)])
        if code != 0:
            raise SystemExit(f"set-up failed ({code}): {out.getvalue()}")


def ended(db: Path) -> list[tuple[str, int | None, str | None, int | None, int]]:
    """Calls by (outcome, OriginateResponse reason, DialEnd status, hangup cause)."""
    with sqlite3.connect(db) as conn:
        return conn.execute(f"{ENDED} GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC").fetchall()


def by_outcome(rows: list[tuple[str, int | None, str | None, int | None, int]]) -> Counter[str]:
    """The calls of ``ended``'s rows, by outcome alone."""
    total: Counter[str] = Counter()
    for outcome, *_, n in rows:
        total[outcome] += n
    return total


class Recorder:
    """A TCP proxy in front of Asterisk's AMI port that keeps every chunk, each way."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.chunks: list[dict[str, object]] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Pipe one client connection to Asterisk and back."""
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.port)
        opened = time.monotonic()

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, way: str) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    t = round(time.monotonic() - opened, 3)
                    self.chunks.append({"t": t, "dir": way, "data": data.decode()})
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(up_reader, writer, "in"), pipe(reader, up_writer, "out"))


@contextlib.asynccontextmanager
async def recorded(port: int, record: str | None) -> AsyncIterator[int]:
    """The AMI port the daemon should use: ``port`` itself, or with ``record`` a recording
    proxy's, whose traffic is written there at the end."""
    if record is None:
        yield port
        return
    recorder = Recorder(port)
    proxy = await asyncio.start_server(recorder.serve, "127.0.0.1", 0)
    try:
        yield int(proxy.sockets[0].getsockname()[1])
    finally:
        proxy.close()
        write_recording(Path(record), recorder.chunks)


async def soak(args: argparse.Namespace, db: Path) -> None:
    """Start the Asterisk, run the daemon for ``args.minutes``, let it drain, stop."""
    async with private_asterisk(args, lab=SOAK_DIALPLAN, extra_modules=("func_rand.so",)) as port:
        probe = await connect(port)
        probe.send(Action="Login", ActionID="login", Username="dialerd", Secret=SECRET)
        await probe.wait(lambda m: m.name == "FullyBooted")
        probe.writer.close()
        async with recorded(port, args.record) as ami_port:
            await dial_and_drain(args, db, ami_port)


async def dial_and_drain(args: argparse.Namespace, db: Path, port: int) -> None:
    """Run the daemon against the AMI at ``port`` for ``args.minutes``, then drain."""
    config = lab_config("soak", db, port, SECRET, drain_timeout_s=90)
    stop = asyncio.Event()
    daemon = asyncio.create_task(app.run(config, stop=stop))
    seconds = args.minutes * 60.0
    columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns) as progress:
        task = progress.add_task("dialling", total=seconds)
        loop = asyncio.get_running_loop()
        started = loop.time()
        while (elapsed := loop.time() - started) < seconds and not daemon.done():
            counts = by_outcome(await asyncio.to_thread(ended, db))
            text = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            progress.update(task, completed=elapsed, description=f"dialling: {text}")
            await asyncio.wait({daemon}, timeout=2.0)
        progress.update(task, completed=seconds, description="draining the calls in progress")
        stop.set()
        await daemon


def taken_back(db: Path) -> tuple[int, float | None, float | None]:
    """The calls taken back while ringing, and the shortest and longest time from their
    placing to their end. A ringing call hung up by the dialer ends with Reason 0 and a
    ``DialEnd`` (docs/asterisk.md); one given up at the ring timeout has Reason 3."""
    with sqlite3.connect(db) as conn:
        count, shortest, longest = conn.execute(
            "SELECT count(*), min(ended_at - created_at), max(ended_at - created_at) FROM calls"
            " WHERE outcome = 'no_answer' AND reason = 0 AND dial_status IS NOT NULL"
        ).fetchone()
    return int(count), shortest, longest


def report(db: Path, console: Console) -> int:
    """Print the calls and the figures; 0 when every call ended and one reached an agent."""
    rows = ended(db)
    table = Table(title="calls")
    for name in ("outcome", "reason", "DialEnd", "cause", "count"):
        table.add_column(name, justify="right" if name in ("reason", "cause", "count") else "left")
    for outcome, reason, status, cause, n in rows:
        table.add_row(outcome, str(reason), str(status), str(cause), str(n))
    console.print(table)
    total = by_outcome(rows)
    back, shortest, longest = taken_back(db)
    if shortest is not None and longest is not None:
        # Placing to end: post-dial delay, at least the legal 15 s of ringing, the hangup.
        console.print(
            f"calls taken back ended {shortest:.1f}-{longest:.1f} s after they were placed"
        )
    live = total["answered_agent"] + total["abandoned"]
    rate = f"{total['abandoned'] / live:.1%}" if live else "no live answer"
    console.print(
        f"placed {total.total()}, reached an agent {total['answered_agent']},"
        f" abandoned {total['abandoned']} ({rate} of those answered and routed),"
        f" taken back while ringing {back}, left in progress {total['in progress']}"
    )
    return 0 if total["answered_agent"] and not total["in progress"] else 1


def main() -> None:
    """Parse the options, set the campaign up, run the soak, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_asterisk_arguments(parser)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to dial")
    parser.add_argument("--agents", type=int, default=8, help="agents logged in")
    parser.add_argument(
        "--amd",
        action="store_true",
        help="the campaign uses AMD (estimated at 1 %% false positives)",
    )
    parser.add_argument("--record", help="write the daemon's AMI traffic to this JSONL file")
    args = parser.parse_args()
    if args.minutes <= 0 or args.agents < 1:
        parser.error("--minutes must be above 0 and --agents at least 1")
    console = Console()
    with tempfile.TemporaryDirectory(prefix="dialerd-soak-") as tmp:
        db = Path(tmp) / "soak.sqlite3"
        set_up(db, Path(tmp), args.agents, args.amd)
        log.configure("warning", "console")
        asyncio.run(soak(args, db))
        raise SystemExit(report(db, console))


if __name__ == "__main__":
    main()
