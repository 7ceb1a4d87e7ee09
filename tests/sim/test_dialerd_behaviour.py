"""The simulated Asterisk plays the shipped dialplan: AMD, the hold timer, connects, agents."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dialerd.ami import contract
from dialerd.sim.asterisk import SimAsterisk
from dialerd.sim.scenario import Amd, LiveAnswerComponent, LogNormal, Normal, Scenario, Uniform
from tests.sim.client import AmiTestClient

CALL = "0123456789abcdef0123456789abcdef"
AGENT_SESSION = "fedcba9876543210fedcba9876543210"
FAST = Scenario().with_(
    post_dial_delay_s=Uniform(0.1, 0.2),
    live_answer=(LiveAnswerComponent(1.0, Uniform(1.0, 2.0)),),
    machine_answer_s=Normal(2.0, 0.5, 1.0),
    talk=LogNormal(2.0, 0.1),
    amd=Amd(false_positive_rate=0.0, false_negative_rate=0.0),
)
NUMBERS = {
    "5550001": "live",
    "5550002": "machine",
    "5550005": "busy",
    "5550006": "no_answer",
    "5550007": "congestion",
    "5550009": "invalid",
}


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    server = SimAsterisk(
        behaviour="dialerd", scenario=FAST, seed=7, overrides=NUMBERS, time_scale=0.1
    )
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def ami(sim: SimAsterisk) -> AsyncIterator[AmiTestClient]:
    client = await AmiTestClient.connect(sim.port)
    assert (await client.login())["Response"] == "Success"
    yield client
    await client.close()


def originate_call(
    ami: AmiTestClient,
    number: str,
    *,
    amd: str = "0",
    hold_ms: str = "2000",
    timeout: str = "30000",
) -> str:
    return ami.send(
        "Originate",
        ActionID=CALL,
        Channel=f"Local/{number}@sim-pstn",
        Context=contract.CUSTOMER_CONTEXT,
        Exten="s",
        Priority="1",
        Timeout=timeout,
        Async="true",
        ChannelId=contract.customer_channel_id(CALL),
        OtherChannelId=contract.peer_channel_id(CALL),
        Variable=(
            f"{contract.VAR_CALL_ID}={CALL},{contract.VAR_AMD}={amd},"
            f"{contract.VAR_HOLD_MS}={hold_ms}"
        ),
    )


async def log_in_agent(ami: AmiTestClient, agent: str = "1001") -> None:
    ami.send(
        "Originate",
        ActionID=AGENT_SESSION,
        Channel=f"Local/{agent}@sim-agents",
        Context=contract.AGENT_CONTEXT,
        Exten=agent,
        Priority="1",
        Async="true",
        ChannelId=contract.customer_channel_id(AGENT_SESSION),
        OtherChannelId=contract.peer_channel_id(AGENT_SESSION),
    )
    await ami.event("UserEvent", UserEvent=contract.EV_AGENT_READY, DialerAgentId=agent)
    await ami.event("ConfbridgeJoin", Uniqueid=contract.customer_channel_id(AGENT_SESSION))


def user_events(ami: AmiTestClient) -> list[str]:
    return [m.get("UserEvent") or "" for m in ami.events("UserEvent")]


async def test_unconnected_customer_gets_safe_harbor_then_hangup(ami: AmiTestClient) -> None:
    """A human nobody connects hears the safe-harbor message and is hung up by the dialplan."""
    originate_call(ami, "5550001")
    answered = await ami.event("OriginateResponse", ActionID=CALL)
    assert (answered["Response"], answered["Reason"]) == ("Success", "4")
    await ami.event("Hangup", Uniqueid=contract.customer_channel_id(CALL))
    assert user_events(ami) == [contract.EV_READY, contract.EV_SAFE_HARBOR]
    harbor = ami.events("UserEvent")[1]
    assert harbor[contract.H_CALL_ID] == CALL


async def test_hold_timer_fires_without_dialerd(sim: SimAsterisk, ami: AmiTestClient) -> None:
    """The safe-harbor path runs even when the dialer's connection is gone."""
    observer = await AmiTestClient.connect(sim.port)
    await observer.login()
    originate_call(ami, "5550001")
    await ami.event("UserEvent", UserEvent=contract.EV_READY)
    await ami.close()
    harbor = await observer.event("UserEvent", UserEvent=contract.EV_SAFE_HARBOR)
    assert harbor[contract.H_CALL_ID] == CALL
    await observer.event("Hangup", Uniqueid=contract.customer_channel_id(CALL))
    await observer.close()


async def test_redirect_connects_customer_to_agent_conference(ami: AmiTestClient) -> None:
    """A Redirect into dialerd-connect joins the agent's ConfBridge and stops the hold timer."""
    await log_in_agent(ami)
    originate_call(ami, "5550001")
    await ami.event("UserEvent", UserEvent=contract.EV_READY)
    redirect = ami.send(
        "Redirect",
        Channel=contract.customer_channel_id(CALL),
        Context=contract.CONNECT_CONTEXT,
        Exten="1001",
        Priority="1",
    )
    assert (await ami.response(redirect))["Message"] == "Redirect successful"
    connected = await ami.event("UserEvent", UserEvent=contract.EV_CONNECTED)
    assert (connected[contract.H_CALL_ID], connected[contract.H_AGENT_ID]) == (CALL, "1001")
    join = await ami.event("ConfbridgeJoin", Uniqueid=contract.customer_channel_id(CALL))
    assert join["Conference"] == contract.CONFERENCE_PREFIX + "1001"
    # The customer talks, then hangs up; the agent stays in its conference.
    await ami.event("Hangup", Uniqueid=contract.customer_channel_id(CALL))
    assert contract.EV_SAFE_HARBOR not in user_events(ami)
    listing = ami.send("CoreShowChannels")
    done = await ami.event("CoreShowChannelsComplete", ActionID=listing)
    ids = {m["Uniqueid"] for m in ami.events("CoreShowChannel") if m.action_id == listing}
    assert contract.customer_channel_id(AGENT_SESSION) in ids
    assert done["ListItems"] == "2"


async def test_agent_leaving_ends_connected_customer(ami: AmiTestClient) -> None:
    """When the agent hangs up, the connected customer's call ends (end_marked)."""
    await log_in_agent(ami)
    originate_call(ami, "5550001")
    await ami.event("UserEvent", UserEvent=contract.EV_READY)
    ami.send(
        "Redirect",
        Channel=contract.customer_channel_id(CALL),
        Context=contract.CONNECT_CONTEXT,
        Exten="1001",
        Priority="1",
    )
    await ami.event("ConfbridgeJoin", Uniqueid=contract.customer_channel_id(CALL))
    hangup = ami.send("Hangup", Channel=contract.customer_channel_id(AGENT_SESSION))
    assert (await ami.response(hangup))["Message"] == "Channel Hungup"
    gone = await ami.event("UserEvent", UserEvent=contract.EV_AGENT_GONE)
    assert gone[contract.H_AGENT_ID] == "1001"
    await ami.event("Hangup", Uniqueid=contract.customer_channel_id(CALL))


async def test_redirect_to_agent_without_conference_is_abandoned(ami: AmiTestClient) -> None:
    """A connect to an agent who is not logged in plays safe harbor instead of dead air."""
    originate_call(ami, "5550001")
    await ami.event("UserEvent", UserEvent=contract.EV_READY)
    ami.send(
        "Redirect",
        Channel=contract.customer_channel_id(CALL),
        Context=contract.CONNECT_CONTEXT,
        Exten="2002",
        Priority="1",
    )
    await ami.event("UserEvent", UserEvent=contract.EV_SAFE_HARBOR)
    await ami.event("Hangup", Uniqueid=contract.customer_channel_id(CALL))
    assert contract.EV_CONNECTED not in user_events(ami)


async def test_amd_machine_is_reported_and_hung_up(ami: AmiTestClient) -> None:
    """With AMD on, a machine yields DialerAMD MACHINE, DialerMachine and a hangup."""
    originate_call(ami, "5550002", amd="1")
    verdict = await ami.event("UserEvent", UserEvent=contract.EV_AMD)
    assert verdict[contract.H_AMD_STATUS] == "MACHINE"
    assert verdict[contract.H_AMD_CAUSE].startswith("LONGGREETING")
    await ami.event("Hangup", Uniqueid=contract.customer_channel_id(CALL))
    assert user_events(ami) == [contract.EV_AMD, contract.EV_MACHINE]


async def test_amd_human_then_ready(ami: AmiTestClient) -> None:
    """With AMD on, a human yields DialerAMD HUMAN and then DialerReady."""
    originate_call(ami, "5550001", amd="1")
    await ami.event("UserEvent", UserEvent=contract.EV_READY)
    verdict = ami.events("UserEvent")[0]
    assert (verdict["UserEvent"], verdict[contract.H_AMD_STATUS]) == (contract.EV_AMD, "HUMAN")


@pytest.mark.parametrize(
    ("number", "reason", "dial_status"),
    [
        ("5550005", "5", "BUSY"),
        ("5550007", "8", "CONGESTION"),
        ("5550009", "0", "NOANSWER"),
        ("5550006", "3", None),
    ],
)
async def test_failed_calls_report_asterisk_reasons(
    ami: AmiTestClient, number: str, reason: str, dial_status: str | None
) -> None:
    """Busy, congestion, invalid and no answer give the Reason and DialEnd real Asterisk gives."""
    originate_call(ami, number, timeout="3000")
    failed = await ami.event("OriginateResponse", ActionID=CALL)
    assert (failed["Response"], failed["Reason"], failed["Channel"]) == (
        "Failure",
        reason,
        f"Local/{number}@sim-pstn",
    )
    await ami.event("Hangup", Uniqueid=contract.customer_channel_id(CALL))
    ends = [m.get("DialStatus") for m in ami.events("DialEnd")]
    assert ends == ([] if dial_status is None else [dial_status])


async def test_redirect_of_a_gone_channel_is_refused(ami: AmiTestClient) -> None:
    """Redirecting a channel that does not exist answers with Asterisk's error text."""
    action = ami.send(
        "Redirect", Channel="nope-a", Context=contract.CONNECT_CONTEXT, Exten="1", Priority="1"
    )
    reply = await ami.response(action)
    assert (reply["Response"], reply["Message"]) == ("Error", "Channel does not exist: nope-a")


async def test_hold_longer_than_two_seconds_is_clamped(ami: AmiTestClient) -> None:
    """A DIALER_HOLD_MS over 2000 is lowered to 2000 by the dialplan."""
    originate_call(ami, "5550001", hold_ms="9000")
    await ami.event("UserEvent", UserEvent=contract.EV_SAFE_HARBOR)
    held = [
        m["Value"]
        for m in ami.events("VarSet")
        if m.get("Uniqueid") == contract.customer_channel_id(CALL)
        and m.get("Variable") == "DIALER_HOLD"
    ]
    assert held == ["9000", "2000"]


async def test_agent_ids_with_letters_work(ami: AmiTestClient) -> None:
    """Agent ids are letters, digits and underscores, as dialerd's model allows."""
    await log_in_agent(ami, "ann_2")
    originate_call(ami, "5550001")
    await ami.event("UserEvent", UserEvent=contract.EV_READY)
    ami.send(
        "Redirect",
        Channel=contract.customer_channel_id(CALL),
        Context=contract.CONNECT_CONTEXT,
        Exten="ann_2",
        Priority="1",
    )
    join = await ami.event("ConfbridgeJoin", Uniqueid=contract.customer_channel_id(CALL))
    assert join["Conference"] == contract.CONFERENCE_PREFIX + "ann_2"
