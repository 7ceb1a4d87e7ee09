"""The simulator's ``dialerd`` behaviour, driven like a real Asterisk was, answers the same.

The recordings in ``tests/fixtures/asterisk-dialerd/`` are ``scripts/asterisk_check.py``
sessions with real Asterisk 20 and 22 running the shipped ``config/asterisk/`` files (and a
lab far end of tones). Each ``out`` action is replayed once the simulator has sent the
message the recorded action followed; then every channel's events are compared, reduced to
what the shipped AMI user receives (``manager_dialerd.conf``'s filter) and to the fields
dialerd reads. The far end differs (tones there, a scenario here), so the numbers the
recording dialled are fixed to the outcome the tones gave.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from dialerd.ami.codec import Banner, Decoder, Message
from dialerd.sim.asterisk import SimAsterisk
from dialerd.sim.scenario import Amd, LiveAnswerComponent, LogNormal, Scenario, Uniform
from tests.sim.client import AmiTestClient

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "asterisk-dialerd"
FILTERED = frozenset(
    {
        "FullyBooted",
        "Shutdown",
        "OriginateResponse",
        "Newchannel",
        "Newstate",
        "DialBegin",
        "DialState",
        "DialEnd",
        "Hangup",
        "UserEvent",
        "BridgeEnter",
        "BridgeLeave",
        "ConfbridgeJoin",
        "ConfbridgeLeave",
    }
)
# Raised from other threads than the channel's own: no fixed place in its sequence.
CROSS_THREAD = frozenset({"OriginateResponse", "ConfbridgeJoin", "ConfbridgeLeave"})
FIELDS = (
    "Event",
    "ChannelState",
    "Context",
    "DialStatus",
    "Cause",
    "UserEvent",
    "DialerCallId",
    "DialerAgentId",
    "AMDStatus",
    "Conference",
)
TONES = {
    "15550001": "live",
    "15550002": "live",
    "15550004": "live",
    "15550005": "live",
    "55550003": "machine",
    "35550006": "no_answer",  # rings until the dialer hangs it up
}
LAB = Scenario().with_(
    post_dial_delay_s=Uniform(0.0, 0.0),
    live_answer=(LiveAnswerComponent(1.0, Uniform(1.0, 1.0)),),
    live_answer_min_s=1.0,
    talk=LogNormal(60.0, 0.01),
    amd=Amd(false_positive_rate=0.0, false_negative_rate=0.0),
)


def recorded(name: str) -> tuple[list[tuple[Message | None, bytes]], list[Message]]:
    """(the message each action followed, the action's bytes) and every message received."""
    decoder = Decoder(expect_banner=True)
    received: list[Message] = []
    sends: list[tuple[Message | None, bytes]] = []
    for line in (FIXTURES / name).read_text().splitlines():
        chunk = json.loads(line)
        if chunk["dir"] == "out":
            sends.append((received[-1] if received else None, chunk["data"].encode()))
            continue
        received += [m for m in decoder.feed(chunk["data"].encode()) if not isinstance(m, Banner)]
    return sends, received


def same_message(want: Message) -> Callable[[Message], bool]:
    """A test for the simulator's message that stands for a recorded one."""
    keys = ("Event", "Response", "ActionID", "UserEvent", "Uniqueid", "DestUniqueid")

    def test(m: Message) -> bool:
        return all(m.get(k) == want.get(k) for k in keys)

    return test


def per_channel(messages: list[Message]) -> dict[str, list[tuple[tuple[str, str], ...]]]:
    """Each channel's filtered events, reduced to the fields dialerd reads."""
    out: dict[str, list[tuple[tuple[str, str], ...]]] = {}
    for m in messages:
        if m.kind != "event" or m.name not in FILTERED or m.name in CROSS_THREAD:
            continue
        key = m.get("Uniqueid") or m.get("DestUniqueid")
        if key is None:
            continue
        out.setdefault(key, []).append(tuple((k, m[k]) for k in FIELDS if k in m))
    return out


@pytest.mark.parametrize("name", ["check-asterisk-20.jsonl", "check-asterisk-22.jsonl"])
async def test_dialerd_behaviour_matches_real_asterisk(name: str) -> None:
    """Per channel, the simulator raises the events real Asterisk raised, with the same values."""
    sends, want = recorded(name)
    sim = SimAsterisk(behaviour="dialerd", scenario=LAB, seed=1, overrides=TONES, time_scale=0.15)
    await sim.start()
    client = await AmiTestClient.connect(sim.port)
    try:
        for anchor, data in sends:
            if anchor is not None:
                await client.wait_for(same_message(anchor))
            client.writer.write(data)
        await client.wait_for(same_message(want[-1]))
        # The last channel's hangups may trail the anchor; wait for every recorded one.
        for hangup in [m for m in want if m.name == "Hangup"]:
            await client.wait_for(same_message(hangup))
    finally:
        await client.close()
        await sim.stop()
    have = per_channel(client.messages)
    expected = per_channel(want)
    assert have.keys() == expected.keys()
    for channel, events in expected.items():
        assert have[channel] == events, channel
