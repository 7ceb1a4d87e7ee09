"""The simulated Asterisk, driven like each recorded session, answers like real Asterisk did."""

from __future__ import annotations

import pytest

from tests.sim.replay import replay, views

# Durations scale down so a recording replays in about a second; the Bridge recording
# needs the customer's media-settle window (0.5 s real) to outlast the client's reaction.
RECORDINGS = {
    "originate-answered": 0.05,
    "originate-busy": 0.05,
    "originate-noanswer": 0.05,
    "originate-congestion": 0.05,
    "originate-machine": 0.05,
    "actions-misc": 0.05,
    "actions-list": 0.05,
    "connect-bridge": 0.5,
    "connect-redirect": 0.2,
    "asterisk-restart": 0.05,
}


@pytest.mark.parametrize("name", sorted(RECORDINGS))
async def test_simulator_matches_recording(name: str) -> None:
    """Responses, per-channel event order, list items and every event's read fields match."""
    connections, got = await replay(name, time_scale=RECORDINGS[name])
    assert len(got) == len(connections)
    for conn, messages in zip(connections, got, strict=True):
        want, have = views(conn.received), views(messages)
        assert have.responses == want.responses
        assert have.lists == want.lists
        assert have.per_channel == want.per_channel
        assert have.per_conference == want.per_conference
        assert have.events == want.events
