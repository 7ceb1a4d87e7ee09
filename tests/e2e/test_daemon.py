"""The real daemon, a real SQLite file and the simulated Asterisk on loopback."""

from __future__ import annotations

import asyncio
import random
import signal
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.conftest import Daemon, Sim, admin, launch, write_config

OUTCOMES = {
    "12125550101": "live",
    "12125550102": "live",
    "12125550103": "machine",
    "12125550104": "busy",
    "12125550105": "no_answer",
    "12125550106": "congestion",
    "12125550107": "invalid",
}
EXPECTED = {
    "+12125550101": "answered_agent",
    "+12125550102": "answered_agent",
    "+12125550103": "answered_agent",  # no AMD: the machine reaches the agent
    "+12125550104": "busy",
    "+12125550105": "no_answer",
    "+12125550106": "congestion",
    "+12125550107": "invalid_number",
}


def setup_campaign(
    db: Path, tmp: Path, numbers: list[str], *, mode: str = "progressive", **opts: str
) -> None:
    """A running campaign (always open) with one agent and the given contacts."""
    csv = tmp / "contacts.csv"
    csv.write_text("phone\n" + "".join(f"+{n}\n" for n in numbers), encoding="utf-8")
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in opts.items()]
    admin(
        db,
        "campaign",
        "create",
        "e2e",
        "--dial-mode",
        mode,
        "--timezone",
        "UTC",
        "--local-hours",
        "00:00-24:00",
        "--wrapup-limit-s",
        "1",
        "--ring-timeout-s",
        "15",
        *flags,
    )
    admin(db, "campaign", "hours", "e2e", "mon-sun 00:00-24:00")
    admin(db, "contacts", "import", "e2e", str(csv))
    admin(db, "agent", "add", "1001", "--endpoint", "Local/1001@sim-agents")
    admin(db, "agent", "assign", "e2e", "1001")
    admin(db, "campaign", "activate", "e2e")
    admin(db, "campaign", "start", "e2e")


def history(db: Path) -> list[tuple[str, int, str, str | None, str | None]]:
    """(number, attempt, state, outcome, agent) of every call, in order."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT number, attempt, state, outcome, agent_id FROM calls ORDER BY created_at"
        ).fetchall()


async def test_a_campaign_ends_with_exactly_the_expected_history(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    """Every contact is called once and its outcome recorded as the customer behaved."""
    async with Sim(OUTCOMES, time_scale=0.2) as sim:
        db = tmp_path / "d.sqlite3"
        await asyncio.to_thread(setup_campaign, db, tmp_path, list(OUTCOMES), max_attempts="1")
        daemon = await launch(daemons, tmp_path, db, sim.server.port)
        await daemon.wait_for(lambda: daemon.count("call_ended") == len(OUTCOMES), 90)
        assert await daemon.stop() == 0
    calls = history(db)
    assert {n: o for n, _, _, o, _ in calls} == EXPECTED
    assert all(attempt == 1 and state == "ended" for _, attempt, state, _, _ in calls)
    assert {n: a for n, _, _, o, a in calls if o == "answered_agent"} == dict.fromkeys(
        ["+12125550101", "+12125550102", "+12125550103"], "1001"
    )
    assert sim.dialled == dict.fromkeys(OUTCOMES, 1)
    states = [e["state"] for e in daemon.events if e.get("event") == "agent_state"]
    assert states[:2] == ["connecting", "ready"]
    assert {"reserved", "on_call", "wrap_up"} <= set(states)


async def test_retries_follow_the_outcome_rules(tmp_path: Path, daemons: list[Daemon]) -> None:
    """A busy number is retried as its rule says, up to the attempt limit, each one recorded."""
    async with Sim({"12125550104": "busy", "12125550105": "live"}, time_scale=0.2) as sim:
        db = tmp_path / "d.sqlite3"
        await asyncio.to_thread(
            setup_campaign,
            db,
            tmp_path,
            ["12125550104", "12125550105"],
            max_attempts="3",
            retry_rules="busy:0:5",
        )
        daemon = await launch(daemons, tmp_path, db, sim.server.port)
        await daemon.wait_for(lambda: daemon.count("call_ended") == 4, 60)
        assert await daemon.stop() == 0
    calls = history(db)
    busy = [(a, o) for n, a, _, o, _ in calls if n == "+12125550104"]
    assert busy == [(1, "busy"), (2, "busy"), (3, "busy")]
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT c.phone, m.status, m.attempts, m.last_result FROM campaign_contacts m"
            " JOIN contacts c ON c.id = m.contact_id ORDER BY c.phone"
        ).fetchall()
    assert rows == [
        ("+12125550104", "done", 3, "busy"),
        ("+12125550105", "done", 1, "answered_agent"),
    ]
    assert sim.dialled == {"12125550104": 3, "12125550105": 1}


async def test_sigterm_drains_calls_in_progress(tmp_path: Path, daemons: list[Daemon]) -> None:
    """SIGTERM stops new calls, lets the one in progress end, records it, and exits 0."""
    numbers = [f"1212555{i:04d}" for i in range(200, 230)]
    async with Sim(dict.fromkeys(numbers, "live"), time_scale=0.3) as sim:
        db = tmp_path / "d.sqlite3"
        await asyncio.to_thread(setup_campaign, db, tmp_path, numbers, max_attempts="1")
        daemon = await launch(daemons, tmp_path, db, sim.server.port)
        await daemon.wait_for(lambda: daemon.count("agent_state") >= 3, 30)  # a call under way
        assert await daemon.stop() == 0
    assert daemon.count("draining") == 1
    calls = history(db)
    assert 1 <= len(calls) < len(numbers)
    assert all(state == "ended" and outcome for _, _, state, outcome, _ in calls)
    assert sum(sim.dialled.values()) == len(calls)


@pytest.mark.slow
async def test_kill_nine_at_random_points_loses_nothing_and_dials_no_one_twice(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    """Twenty kill -9 and restarts mid-campaign: every call ends recorded, none repeated."""
    rng = random.Random(20261122)
    numbers = [f"1212555{i:04d}" for i in range(300, 340)]
    outcomes = ["live", "busy", "no_answer", "live", "invalid"]
    async with Sim({n: outcomes[i % 5] for i, n in enumerate(numbers)}, time_scale=0.1) as sim:
        db = tmp_path / "d.sqlite3"
        await asyncio.to_thread(
            setup_campaign, db, tmp_path, numbers, mode="power", max_attempts="1", power_ratio="3"
        )
        config = write_config(tmp_path / "c.toml", db, sim.server.port)
        for _ in range(20):
            daemon = Daemon(config)
            daemons.append(daemon)
            await daemon.start()
            await daemon.wait_for(lambda: daemon.count("ready") == 1, 30)  # noqa: B023
            k = rng.randint(1, 6)

            def progressed(d: Daemon = daemon, k: int = k) -> bool:
                return d.count("agent_state") + d.count("call_ended") >= k

            await daemon.wait_for(progressed, 30)
            assert await daemon.stop(signal.SIGKILL) == -signal.SIGKILL
        final = Daemon(config)
        daemons.append(final)
        await final.start()
        await final.wait_for(lambda: final.count("ready") == 1, 30)

        def all_ended() -> bool:
            with sqlite3.connect(db) as conn:
                (open_calls,) = conn.execute(
                    "SELECT count(*) FROM calls WHERE state != 'ended'"
                ).fetchone()
                (waiting,) = conn.execute(
                    "SELECT count(*) FROM campaign_contacts"
                    " WHERE status IN ('new', 'retry', 'claimed')"
                ).fetchone()
            return bool(open_calls == 0 and waiting == 0)

        await final.wait_for(all_ended, 120)
        assert await final.stop() == 0
    calls = history(db)
    assert all(state == "ended" and outcome for _, _, state, outcome, _ in calls)
    per_number: dict[str, int] = {}
    for number, *_ in calls:
        per_number[number] = per_number.get(number, 0) + 1
    assert max(per_number.values()) == 1
    assert max(sim.dialled.values()) == 1
    assert set(sim.dialled) <= {n.removeprefix("+") for n in per_number}


async def test_preview_serves_owned_records_to_their_owner_only(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    """An agent-owned preview campaign calls its agent's records and skips unknown owners."""
    numbers = ["12125550401", "12125550402", "12125550403"]
    async with Sim(dict.fromkeys(numbers, "live"), time_scale=0.2) as sim:
        db = tmp_path / "d.sqlite3"
        csv = tmp_path / "owned.csv"
        csv.write_text(
            "phone,owner\n+12125550401,1001\n+12125550402,ghost\n+12125550403,\n",
            encoding="utf-8",
        )

        def setup() -> None:
            admin(
                db,
                "campaign",
                "create",
                "own",
                "--dial-mode",
                "preview",
                "--agent-owned",
                "yes",
                "--timezone",
                "UTC",
                "--local-hours",
                "00:00-24:00",
                "--wrapup-limit-s",
                "1",
                "--max-attempts",
                "1",
            )
            admin(db, "campaign", "hours", "own", "mon-sun 00:00-24:00")
            admin(db, "contacts", "import", "own", str(csv))
            admin(db, "agent", "add", "1001", "--endpoint", "Local/1001@sim-agents")
            admin(db, "agent", "assign", "own", "1001")
            admin(db, "campaign", "activate", "own")
            admin(db, "campaign", "start", "own")

        await asyncio.to_thread(setup)
        daemon = await launch(daemons, tmp_path, db, sim.server.port)
        await daemon.wait_for(lambda: daemon.count("call_ended") == 2, 60)
        assert await daemon.stop() == 0
    offered = [e["contact"] for e in daemon.events if e.get("event") == "preview_offered"]
    assert offered == [1, 3]  # the agent's own record first, then the unowned one
    assert [e["owner"] for e in daemon.events if e.get("event") == "unknown_owner"] == ["ghost"]
    assert [n for n, *_ in history(db)] == ["+12125550401", "+12125550403"]
    assert "12125550402" not in sim.dialled


async def test_answered_customers_without_an_agent_are_abandoned_and_counted(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    """Power dialling one agent at ratio 3 leaves answered customers to the safe harbor."""
    numbers = [f"1212555{i:04d}" for i in range(500, 512)]
    async with Sim(dict.fromkeys(numbers, "live"), time_scale=0.5) as sim:
        db = tmp_path / "d.sqlite3"
        await asyncio.to_thread(
            setup_campaign,
            db,
            tmp_path,
            numbers,
            mode="power",
            power_ratio="3",
            max_attempts="1",
        )
        daemon = await launch(daemons, tmp_path, db, sim.server.port)
        await daemon.wait_for(lambda: daemon.count("call_ended") == len(numbers), 90)
        assert await daemon.stop() == 0
    outcomes = [o for _, _, _, o, _ in history(db)]
    assert set(outcomes) == {"answered_agent", "abandoned"}
    assert outcomes.count("abandoned") >= 1
    with sqlite3.connect(db) as conn:
        abandoned = conn.execute(
            "SELECT count(*) FROM campaign_contacts WHERE last_result = 'abandoned'"
        ).fetchone()[0]
    assert abandoned == outcomes.count("abandoned")


async def test_an_ami_outage_pauses_dialling_and_resumes_without_double_dials(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    """Dropping the AMI link mid-campaign pauses dialling; after resync it finishes the list."""
    numbers = [f"1212555{i:04d}" for i in range(600, 620)]
    async with Sim(dict.fromkeys(numbers, "live"), time_scale=0.2) as sim:
        db = tmp_path / "d.sqlite3"
        await asyncio.to_thread(
            setup_campaign,
            db,
            tmp_path,
            numbers,
            mode="power",
            power_ratio="2",
            max_attempts="1",
        )
        daemon = await launch(daemons, tmp_path, db, sim.server.port)
        await daemon.wait_for(lambda: daemon.count("call_ended") >= 3, 60)
        sim.server.drop_connections()
        await daemon.wait_for(lambda: daemon.count("ami.link_up") >= 2, 30)

        def finished() -> bool:
            with sqlite3.connect(db) as conn:
                (waiting,) = conn.execute(
                    "SELECT count(*) FROM campaign_contacts WHERE status != 'done'"
                ).fetchone()
            return bool(waiting == 0)

        await daemon.wait_for(finished, 90)
        assert await daemon.stop() == 0
    calls = history(db)
    assert all(state == "ended" and outcome for _, _, state, outcome, _ in calls)
    assert max(sim.dialled.values()) == 1
    assert len({n for n, *_ in calls}) == len(calls)
