"""A restarted daemon's predictive pacer starts with the abandons its campaign already made."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.e2e.conftest import Daemon, Sim, admin, launch
from tests.e2e.test_daemon import history, setup_campaign


async def test_a_restarted_daemon_counts_the_earlier_abandons(
    tmp_path: Path, daemons: list[Daemon]
) -> None:
    """Abandons made by one run (power dialling one agent at ratio 3) are read back when the
    next run starts the campaign as predictive, with every live answer of the first."""
    numbers = [f"1212555{i:04d}" for i in range(600, 609)]
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
        first = await launch(daemons, tmp_path, db, sim.server.port)
        await first.wait_for(lambda: first.count("call_ended") == len(numbers), 90)
        assert await first.stop() == 0
        assert first.count("abandon_history") == 0  # a power campaign keeps no budget
        outcomes = [o for _, _, _, o, _ in history(db)]
        assert outcomes.count("abandoned") >= 1

        def predictive() -> None:
            admin(db, "campaign", "stop", "e2e")
            admin(db, "campaign", "edit", "e2e", "--dial-mode", "predictive")
            admin(db, "campaign", "start", "e2e")

        await asyncio.to_thread(predictive)
        second = await launch(daemons, tmp_path, db, sim.server.port)
        await second.wait_for(lambda: second.count("abandon_history") == 1, 60)
        assert await second.stop() == 0
    (read,) = [e for e in second.events if e.get("event") == "abandon_history"]
    assert read["abandoned"] == outcomes.count("abandoned")
    assert read["live_answers"] == outcomes.count("abandoned") + outcomes.count("answered_agent")
    assert read["window_s"] == 30 * 86400.0
