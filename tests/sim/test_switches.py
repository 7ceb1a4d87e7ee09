"""The simulator's fault switches: dropped links, unanswered pings, restarts, late events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from dialerd.sim.asterisk import SimAsterisk
from tests.sim.client import AmiTestClient


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    server = SimAsterisk(
        username="lab",
        secret="labsecret",
        login_fail_delay_s=0.01,
        time_scale=0.02,
        restart_delay_s=0.01,
        seed=3,
    )
    await server.start()
    yield server
    await server.stop()


async def connect(sim: SimAsterisk) -> AmiTestClient:
    client = await AmiTestClient.connect(sim.port)
    reply = await client.login("lab", "labsecret")
    assert reply["Message"] == "Authentication accepted"
    return client


def originate(client: AmiTestClient, number: str, call: str) -> str:
    return client.send(
        "Originate",
        Channel=f"Local/{number}@sim-pstn",
        Context="lab-answered",
        Exten="s",
        Priority="1",
        Timeout="20000",
        Async="true",
        ChannelId=call,
        OtherChannelId=call + "-peer",
    )


async def test_wrong_secret_is_refused(sim: SimAsterisk) -> None:
    """A wrong secret gets Asterisk's error after the configured delay, and no events."""
    client = await AmiTestClient.connect(sim.port)
    reply = await client.login("lab", "wrong")
    assert (reply["Response"], reply["Message"]) == ("Error", "Authentication failed")
    assert client.banner is not None
    assert client.banner.text == "Asterisk Call Manager/13.0.0"
    assert client.events() == []
    await client.close()


async def test_drop_connections_resets_the_link(sim: SimAsterisk) -> None:
    """drop_connections closes every AMI session at once."""
    client = await connect(sim)
    sim.drop_connections()
    await asyncio.wait_for(client.closed.wait(), 5)
    await client.close()


async def test_unanswered_pings_while_other_actions_work(sim: SimAsterisk) -> None:
    """With pings switched off a Ping gets no Pong, though later actions are answered."""
    client = await connect(sim)
    sim.set_answer_pings(False)
    ping = client.send("Ping")
    listing = client.send("CoreShowChannels")
    await client.event("CoreShowChannelsComplete", ActionID=listing)
    assert [m for m in client.messages if m.action_id == ping] == []
    sim.set_answer_pings(True)
    pong = await client.response(client.send("Ping"))
    assert (pong["Response"], pong["Ping"]) == ("Success", "Pong")
    await client.close()


async def test_restart_sends_shutdown_and_comes_back_empty(sim: SimAsterisk) -> None:
    """A restart ends channels, sends Shutdown, closes, and returns with Uptime reset."""
    client = await connect(sim)
    client.send(
        "Originate",
        Channel="Local/1001@sim-agents",
        Context="lab-agent",
        Exten="1001",
        Priority="1",
        Async="true",
        ChannelId="agent-1001",
    )
    await client.event("ConfbridgeJoin", Uniqueid="agent-1001")
    await sim.restart()
    shutdown = await client.event("Shutdown")
    assert (shutdown["Shutdown"], shutdown["Restart"]) == ("Cleanly", "True")
    await client.event("Hangup", Uniqueid="agent-1001")
    await asyncio.wait_for(client.closed.wait(), 5)
    await client.close()
    again = await connect(sim)
    booted = await again.event("FullyBooted")
    assert booted["Uptime"] == "0"
    listing = again.send("CoreShowChannels")
    assert (await again.event("CoreShowChannelsComplete", ActionID=listing))["ListItems"] == "0"
    await again.close()


async def _call_events(sim: SimAsterisk) -> dict[str, list[str]]:
    client = await connect(sim)
    originate(client, "5550001", "call-1")
    originate(client, "5550005", "call-2")
    await client.event("Hangup", Uniqueid="call-1")
    await client.event("Hangup", Uniqueid="call-1-peer")
    await client.event("Hangup", Uniqueid="call-2-peer")
    per_channel: dict[str, list[str]] = {}
    for m in client.events():
        key = m.get("Uniqueid") or m.get("DestUniqueid")
        if key and m.name != "OriginateResponse":
            per_channel.setdefault(key, []).append(m.name)
    await client.close()
    return per_channel


async def test_delayed_events_keep_per_channel_order(sim: SimAsterisk) -> None:
    """Late, jittered events may interleave across channels but never within one."""
    reference = await _call_events(sim)
    sim.set_event_delay(0.01, 0.05)
    assert await _call_events(sim) == reference


async def test_hangup_by_regex_lists_channels(sim: SimAsterisk) -> None:
    """Hangup with a /regex/ answers as an event list and hangs the matches up."""
    client = await connect(sim)
    client.send(
        "Originate",
        Channel="Local/1001@sim-agents",
        Context="lab-agent",
        Exten="1001",
        Priority="1",
        Async="true",
        ChannelId="agent-1001",
    )
    await client.event("ConfbridgeJoin", Uniqueid="agent-1001")
    action = client.send("Hangup", Channel="/^Local/1001@sim-agents-.*;1$/")
    ack = await client.response(action)
    assert (ack["EventList"], ack["Message"]) == ("start", "Channels hung up will follow")
    done = await client.event("ChannelsHungupListComplete", ActionID=action)
    assert done["ListItems"] == "1"
    await client.event("Hangup", Uniqueid="agent-1001")
    await client.close()


async def test_unknown_action_is_an_error(sim: SimAsterisk) -> None:
    """An unknown action gets Asterisk's error text."""
    client = await connect(sim)
    reply = await client.response(client.send("NoSuchAction"))
    assert reply["Message"] == (
        "Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show available "
        "commands."
    )
    await client.close()


async def test_login_events_keep_only_named_classes(sim: SimAsterisk) -> None:
    """Logging in with ``Events: system,call,user`` drops dialplan-class events."""
    client = await AmiTestClient.connect(sim.port)
    await client.response(
        client.send("Login", Username="lab", Secret="labsecret", Events="system,call,user")
    )
    originate(client, "5550001", "call-1")
    await client.event("Hangup", Uniqueid="call-1")
    names = {m.name for m in client.events()}
    assert "Newchannel" in names
    assert "UserEvent" in names
    assert not names & {"Newexten", "VarSet"}
    await client.close()
