"""The AMI translator turns real Asterisk sessions into the core events the engine expects."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialerd.ami.codec import BANNER_PREFIX, Decoder, Message
from dialerd.ami.translate import LEG_GRACE_S, ContractIds, DialplanNames, LegRef, Translator
from dialerd.core.events import (
    AgentConnected,
    AgentSessionFailed,
    AgentSessionGone,
    AgentSessionReady,
    AmdVerdict,
    AmiEvent,
    AsteriskRestarted,
    CallAnswered,
    CallFailed,
    CallNotPlaced,
    CallQueued,
    CallRinging,
    ChannelHungUp,
    ChannelsSnapshot,
    CustomerReady,
    DialFailure,
    Leg,
    MachineDetected,
    Party,
    SafeHarborPlayed,
    classify_failure,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ami"

# --- the lab recordings: their ids and dialplan names, mapped onto ours -----------------------

LEAD = "lead-42-attempt-1"
CUST = "cust-1"


class LabIds:
    """The ids the recordings used (``lead-42-attempt-1``, ``agent-1001``, ...)."""

    legs: ClassVar[dict[str, LegRef]] = {
        LEAD: LegRef(Party.CALL, LEAD, Leg.CUSTOMER),
        f"{LEAD}-peer": LegRef(Party.CALL, LEAD, Leg.PEER),
        CUST: LegRef(Party.CALL, CUST, Leg.CUSTOMER),
        f"{CUST}-peer": LegRef(Party.CALL, CUST, Leg.PEER),
        "agent-1001": LegRef(Party.AGENT, "1001", Leg.CUSTOMER),
        "agent-1001-peer": LegRef(Party.AGENT, "1001", Leg.PEER),
        "agent-1001;2": LegRef(Party.AGENT, "1001", Leg.PEER),
    }
    actions: ClassVar[dict[str, tuple[Party, str]]] = {
        "orig-1": (Party.CALL, LEAD),
        "orig-cust": (Party.CALL, CUST),
        "o-bad": (Party.CALL, "bad"),
        "o-sync-missing": (Party.CALL, "missing"),
        "agent-login": (Party.AGENT, "1001"),
        "o-agent": (Party.AGENT, "1001"),
        "o1": (Party.AGENT, "1001"),
    }

    def leg_of(self, uniqueid: str) -> LegRef | None:
        return self.legs.get(uniqueid)

    def party_of_action(self, action_id: str) -> tuple[Party, str] | None:
        return self.actions.get(action_id)


LAB_NAMES = DialplanNames(ready="LabAnswered", conference_prefix="agent")
S = "lab"


def _hup(party: Party, who: str, leg: Leg, cause: int, txt: str) -> ChannelHungUp:
    return ChannelHungUp(S, party, who, leg, cause, txt)


def _agent_gone_at_hangup(first: Leg, cause_peer: int, txt_peer: str) -> list[AmiEvent]:
    peer = _hup(Party.AGENT, "1001", Leg.PEER, cause_peer, txt_peer)
    own = _hup(Party.AGENT, "1001", Leg.CUSTOMER, 16, "Normal Clearing")
    gone = AgentSessionGone(S, "1001")
    return [own, gone, peer] if first is Leg.CUSTOMER else [peer, own, gone]


EXPECTED: dict[str, list[AmiEvent]] = {
    "originate-answered": [
        CallQueued(S, LEAD),
        CallRinging(S, LEAD),
        CallAnswered(S, LEAD),
        CustomerReady(S, LEAD),
        _hup(Party.CALL, LEAD, Leg.PEER, 16, "Normal Clearing"),
        _hup(Party.CALL, LEAD, Leg.CUSTOMER, 16, "Normal Clearing"),
    ],
    "originate-busy": [CallQueued(S, LEAD), CallFailed(S, LEAD, 5, "BUSY", 17)],
    "originate-noanswer": [
        CallQueued(S, LEAD),
        CallRinging(S, LEAD),
        CallFailed(S, LEAD, 3, None, 19),
    ],
    "originate-congestion": [CallQueued(S, LEAD), CallFailed(S, LEAD, 8, "CONGESTION", 34)],
    "originate-machine": [
        CallQueued(S, LEAD),
        CallAnswered(S, LEAD),
        CustomerReady(S, LEAD),
        _hup(Party.CALL, LEAD, Leg.PEER, 16, "Normal Clearing"),
        _hup(Party.CALL, LEAD, Leg.CUSTOMER, 16, "Normal Clearing"),
    ],
    "actions-misc": [],
    "actions-list": [
        CallQueued(S, "bad"),
        CallNotPlaced(S, "missing", "Asterisk refused: Channel not specified", False),
        CallFailed(S, "bad", 0, None, None),
        AgentSessionReady(S, "1001"),
        *_agent_gone_at_hangup(Leg.CUSTOMER, 16, "Normal Clearing"),
    ],
    "connect-bridge": [
        AgentSessionReady(S, "1001"),
        CallQueued(S, CUST),
        CallRinging(S, CUST),
        CallAnswered(S, CUST),
        CustomerReady(S, CUST),
        AgentConnected(S, CUST, "1001"),
        *_agent_gone_at_hangup(Leg.CUSTOMER, 16, "Normal Clearing"),
    ],
    "connect-redirect": [
        AgentSessionReady(S, "1001"),
        CallQueued(S, CUST),
        CallRinging(S, CUST),
        # LabAnswered overtakes the OriginateResponse on the wire; the answer still comes first.
        CallAnswered(S, CUST),
        CustomerReady(S, CUST),
        AgentConnected(S, CUST, "1001"),
        _hup(Party.CALL, CUST, Leg.CUSTOMER, 16, "Normal Clearing"),
        _hup(Party.CALL, CUST, Leg.PEER, 16, "Normal Clearing"),
        *_agent_gone_at_hangup(Leg.CUSTOMER, 16, "Normal Clearing"),
    ],
    "asterisk-restart": [
        AgentSessionReady(S, "1001"),
        *_agent_gone_at_hangup(Leg.PEER, 0, "Unknown"),
        AsteriskRestarted(S, 2),
    ],
}


def _replay(name: str, *, bytewise: bool = False) -> list[AmiEvent]:
    """Feed a recording's received chunks to a decoder and the translator, as recorded.

    A chunk that opens with the banner starts a new connection (the restart recording holds
    two), so it gets a new decoder and the translator hears of the lost link.
    """
    translator = Translator(S, LabIds(), LAB_NAMES)
    decoder: Decoder | None = None
    out: list[AmiEvent] = []
    for line in (FIXTURES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["dir"] != "in":
            continue
        data = record["data"].encode()
        if data.startswith(BANNER_PREFIX.encode()):
            if decoder is not None:
                translator.link_lost()
            decoder = Decoder()
        assert decoder is not None
        pieces = [data[i : i + 1] for i in range(len(data))] if bytewise else [data]
        for piece in pieces:
            for message in decoder.feed(piece):
                if isinstance(message, Message):
                    out.extend(translator.feed(message, float(record["t"])))
    return out


def test_every_recording_has_an_expectation() -> None:
    """No recording in the fixtures folder escapes the replay test."""
    assert sorted(p.stem for p in FIXTURES.glob("*.jsonl")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recording_translates_to_the_expected_events(name: str) -> None:
    """Replaying a recording chunk by chunk yields exactly the expected core events."""
    assert _replay(name) == EXPECTED[name]


@pytest.mark.parametrize("name", ["originate-busy", "connect-redirect", "asterisk-restart"])
def test_translation_does_not_depend_on_chunking(name: str) -> None:
    """Feeding the same bytes one at a time gives the same events as the recorded chunks."""
    assert _replay(name, bytewise=True) == EXPECTED[name]


def test_failure_outcomes_of_the_recordings() -> None:
    """The recorded busy, no-answer and congestion calls classify as such."""
    failed = {
        name: next(e for e in _replay(name) if isinstance(e, CallFailed)).outcome
        for name in ("originate-busy", "originate-noanswer", "originate-congestion")
    }
    assert failed == {
        "originate-busy": DialFailure.BUSY,
        "originate-noanswer": DialFailure.NO_ANSWER,
        "originate-congestion": DialFailure.CONGESTION,
    }


# --- the production scheme (contract.py ids and names) ----------------------------------------

C = "0123456789abcdef0123456789abcdef"
A_SESSION = "fedcba9876543210fedcba9876543210"
SRV = "ast1"


def _msg(**headers: str) -> Message:
    return Message.of({k.replace("_", "-"): v for k, v in headers.items()})


def _ev(name: str, **headers: str) -> Message:
    return _msg(Event=name, **headers)


def _contract_translator() -> Translator:
    ids = ContractIds()
    ids.add_agent_session(A_SESSION, "7")
    return Translator(SRV, ids)


def _feed(tr: Translator, *messages: Message, now: float = 100.0) -> list[AmiEvent]:
    return [e for m in messages for e in tr.feed(m, now)]


def test_contract_ids_tell_calls_agents_and_strangers_apart() -> None:
    """Our call and agent-session ids map to their owner and leg; any other id is not ours."""
    ids = ContractIds()
    ids.add_agent_session(A_SESSION, "7")
    assert ids.leg_of(C + "-a") == LegRef(Party.CALL, C, Leg.CUSTOMER)
    assert ids.leg_of(C + "-b") == LegRef(Party.CALL, C, Leg.PEER)
    assert ids.leg_of(A_SESSION + "-a") == LegRef(Party.AGENT, "7", Leg.CUSTOMER)
    assert ids.leg_of("1795331352.10") is None
    assert ids.leg_of(C) is None
    assert ids.party_of_action(C) == (Party.CALL, C)
    assert ids.party_of_action(A_SESSION) == (Party.AGENT, "7")
    assert ids.party_of_action("ping-3") is None
    ids.drop_agent_session(A_SESSION)
    assert ids.leg_of(A_SESSION + "-a") == LegRef(Party.CALL, A_SESSION, Leg.CUSTOMER)


def test_human_call_through_the_dialerd_dialplan() -> None:
    """Queued, answered, AMD HUMAN, ready, connected, safe end: one event each, in order."""
    tr = _contract_translator()
    events = _feed(
        tr,
        _msg(Response="Success", ActionID=C, Message="Originate successfully queued"),
        _ev("Newchannel", Uniqueid=C + "-a"),
        _ev("DialState", DestUniqueid=C + "-a", DialStatus="RINGING"),
        _ev("DialState", DestUniqueid=C + "-a", DialStatus="RINGING"),
        _ev("OriginateResponse", ActionID=C, Response="Success", Reason="4", Uniqueid=C + "-a"),
        _ev(
            "UserEvent",
            UserEvent="DialerAMD",
            DialerCallId=C,
            AMDStatus="HUMAN",
            AMDCause="HUMAN-800-800",
            Uniqueid=C + "-a",
        ),
        _ev("UserEvent", UserEvent="DialerReady", DialerCallId=C, Uniqueid=C + "-a"),
        _ev("BridgeEnter", BridgeUniqueid="conf-7", Uniqueid=A_SESSION + "-a"),
        _ev("UserEvent", UserEvent="DialerConnected", DialerCallId=C, DialerAgentId="7"),
        _ev("BridgeEnter", BridgeUniqueid="conf-7", Uniqueid=C + "-a"),
        _ev("Hangup", Uniqueid=C + "-a", Cause="16", Cause_txt="Normal Clearing"),
    )
    assert events == [
        CallQueued(SRV, C),
        CallRinging(SRV, C),
        CallAnswered(SRV, C),
        AmdVerdict(SRV, C, "HUMAN", "HUMAN-800-800"),
        CustomerReady(SRV, C),
        AgentConnected(SRV, C, "7"),
        ChannelHungUp(SRV, Party.CALL, C, Leg.CUSTOMER, 16, "Normal Clearing"),
    ]


def test_machine_and_safe_harbor_user_events() -> None:
    """DialerMachine and DialerSafeHarbor name their call in the DialerCallId header."""
    tr = _contract_translator()
    other = "1" * 32
    events = _feed(
        tr,
        _ev("OriginateResponse", ActionID=C, Response="Success", Reason="4"),
        _ev("UserEvent", UserEvent="DialerMachine", DialerCallId=C),
        _ev("OriginateResponse", ActionID=other, Response="Success", Reason="4"),
        _ev("UserEvent", UserEvent="DialerSafeHarbor", DialerCallId=other),
        _ev("UserEvent", UserEvent="SomethingElse", DialerCallId=other),
    )
    assert events == [
        CallAnswered(SRV, C),
        MachineDetected(SRV, C),
        CallAnswered(SRV, other),
        SafeHarborPlayed(SRV, other),
    ]


def test_failure_waits_for_the_legs_and_takes_the_telling_cause() -> None:
    """A failure reported before its hangups is held until every seen leg is down."""
    tr = _contract_translator()
    first = _feed(
        tr,
        _ev("Newchannel", Uniqueid=C + "-a"),
        _ev("Newchannel", Uniqueid=C + "-b"),
        _ev("DialEnd", DestUniqueid=C + "-a", DialStatus="BUSY"),
        _ev("OriginateResponse", ActionID=C, Response="Failure", Reason="0", Uniqueid=C + "-a"),
        _ev("Hangup", Uniqueid=C + "-a", Cause="0", Cause_txt="Unknown"),
    )
    assert first == []
    last = _feed(tr, _ev("Hangup", Uniqueid=C + "-b", Cause="17", Cause_txt="User busy"))
    assert last == [CallFailed(SRV, C, 0, "BUSY", 17)]
    assert last[0].outcome is DialFailure.BUSY  # type: ignore[union-attr]
    late = _feed(tr, _ev("Hangup", Uniqueid=C + "-b", Cause="17", Cause_txt="User busy"))
    assert late == []


def test_failure_without_any_channel_of_ours_is_reported_after_the_grace() -> None:
    """A failed Originate whose Uniqueid is ``<unknown>`` is matched by its ActionID; with
    no channel seen it waits ``LEG_GRACE_S`` for one, then fails with no status or cause."""
    tr = _contract_translator()
    events = _feed(
        tr,
        _ev(
            "OriginateResponse",
            ActionID=C,
            Response="Failure",
            Reason="0",
            Uniqueid="<unknown>",
            Channel="PJSIP/15551234567@trunk",
        ),
        now=100.0,
    )
    assert events == []
    assert tr.next_deadline() == 100.0 + LEG_GRACE_S
    assert tr.expire(100.0 + LEG_GRACE_S / 2) == []
    assert tr.expire(100.0 + LEG_GRACE_S) == [CallFailed(SRV, C, 0, None, None)]
    assert tr.next_deadline() is None
    assert tr.expire(200.0) == []


def test_a_held_failure_is_released_by_the_next_message_too() -> None:
    """Any message fed after the grace releases the failure first, in order."""
    tr = _contract_translator()
    failure = _ev("OriginateResponse", ActionID=C, Response="Failure", Reason="0")
    assert _feed(tr, failure, now=100.0) == []
    other = "00000000000000000000000000000001"
    later = _feed(tr, _ev("DialState", DestUniqueid=other + "-a", DialStatus="RINGING"), now=102.0)
    assert later == [CallFailed(SRV, C, 0, None, None), CallRinging(SRV, other)]


def test_a_held_failure_survives_a_reconnect_snapshot() -> None:
    """The snapshot after a reconnect does not silently forget a failure still held."""
    tr = _contract_translator()
    assert _feed(tr, _ev("OriginateResponse", ActionID=C, Response="Failure", Reason="0")) == []
    tr.link_lost()
    tr.snapshot([])
    assert tr.expire(100.0 + LEG_GRACE_S) == [CallFailed(SRV, C, 0, None, None)]


def test_refused_originate_is_a_call_not_placed() -> None:
    """``Response: Error`` to an Originate means Asterisk never dialled."""
    tr = _contract_translator()
    events = _feed(tr, _msg(Response="Error", ActionID=C, Message="Extension does not exist."))
    assert events == [CallNotPlaced(SRV, C, "Asterisk refused: Extension does not exist.", False)]


def test_hangups_before_a_late_answer_are_released_after_it() -> None:
    """Hangups that overtake a success OriginateResponse follow the answer, not precede it."""
    tr = _contract_translator()
    held = _feed(
        tr,
        _ev("Newchannel", Uniqueid=C + "-a"),
        _ev("Hangup", Uniqueid=C + "-b", Cause="16", Cause_txt="Normal Clearing"),
    )
    assert held == []
    events = _feed(tr, _ev("OriginateResponse", ActionID=C, Response="Success", Reason="4"))
    assert events == [
        CallAnswered(SRV, C),
        ChannelHungUp(SRV, Party.CALL, C, Leg.PEER, 16, "Normal Clearing"),
    ]


def test_agent_session_lifecycle() -> None:
    """An agent is ready once and gone once, whichever of its signals comes first."""
    tr = _contract_translator()
    events = _feed(
        tr,
        _ev(
            "UserEvent", UserEvent="DialerAgentReady", DialerAgentId="7", Uniqueid=A_SESSION + "-a"
        ),
        _ev("ConfbridgeJoin", Conference="dialerd-agent-7", Uniqueid=A_SESSION + "-a"),
        _ev("UserEvent", UserEvent="DialerAgentGone", DialerAgentId="7"),
        _ev("Hangup", Uniqueid=A_SESSION + "-a", Cause="16", Cause_txt="Normal Clearing"),
        _ev("OriginateResponse", ActionID=A_SESSION, Response="Failure", Reason="3"),
    )
    assert events == [
        AgentSessionReady(SRV, "7"),
        AgentSessionGone(SRV, "7"),
        ChannelHungUp(SRV, Party.AGENT, "7", Leg.CUSTOMER, 16, "Normal Clearing"),
        AgentSessionFailed(SRV, "7", 3),
    ]


def test_restart_is_detected_from_uptime_and_from_shutdown() -> None:
    """A boot later than the last one, or any boot after Shutdown, is a restart."""
    tr = _contract_translator()
    assert _feed(tr, _ev("FullyBooted", Uptime="500"), now=1000.0) == []
    # Reconnect 60 s later to the same process: its uptime grew by 60 s.
    assert _feed(tr, _ev("FullyBooted", Uptime="560"), now=1060.0) == []
    assert _feed(tr, _ev("FullyBooted", Uptime="3"), now=1070.0) == [AsteriskRestarted(SRV, 3)]
    assert _feed(tr, _ev("Shutdown", Shutdown="Cleanly", Restart="True")) == []
    assert _feed(tr, _ev("FullyBooted", Uptime="20"), now=1071.0) == [AsteriskRestarted(SRV, 20)]


def test_snapshot_names_our_live_calls_and_agents() -> None:
    """CoreShowChannel items become the live ids, split into our calls and agents."""
    tr = _contract_translator()
    items = [
        _ev("CoreShowChannel", ActionID="r1", Uniqueid=C + "-a"),
        _ev("CoreShowChannel", ActionID="r1", Uniqueid=C + "-b"),
        _ev("CoreShowChannel", ActionID="r1", Uniqueid=A_SESSION + "-a"),
        _ev("CoreShowChannel", ActionID="r1", Uniqueid="1795331352.10"),
    ]
    assert tr.snapshot(items) == ChannelsSnapshot(
        SRV,
        frozenset({C + "-a", C + "-b", A_SESSION + "-a", "1795331352.10"}),
        frozenset({C}),
        frozenset({"7"}),
    )


@pytest.mark.parametrize(
    ("reason", "dial_status", "cause", "outcome"),
    [
        # The verified matrix of the notes (Local channels, far end in sim-pstn).
        (5, "BUSY", 17, DialFailure.BUSY),
        (8, "CONGESTION", 34, DialFailure.CONGESTION),
        (3, None, 19, DialFailure.NO_ANSWER),
        (0, "BUSY", 17, DialFailure.BUSY),
        (0, "NOANSWER", 1, DialFailure.INVALID_NUMBER),
        (0, "NOANSWER", 16, DialFailure.NO_ANSWER),
        # Refinements for Reason 0 from the cause alone.
        (0, None, 34, DialFailure.CONGESTION),
        (0, "CHANUNAVAIL", 20, DialFailure.FAILED),
        (0, None, None, DialFailure.FAILED),
    ],
)
def test_failure_classification(
    reason: int, dial_status: str | None, cause: int | None, outcome: DialFailure
) -> None:
    """Reason decides first; Reason 0 is refined by the DialEnd status and the cause."""
    assert classify_failure(reason, dial_status, cause) is outcome


def test_early_media_counts_as_ringing_once() -> None:
    """A carrier's PROGRESS starts the ring clock; RINGING after it adds nothing."""
    tr = _contract_translator()
    events = _feed(
        tr,
        _ev("DialState", DestUniqueid=C + "-a", DialStatus="PROCEEDING"),
        _ev("DialState", DestUniqueid=C + "-a", DialStatus="PROGRESS"),
        _ev("DialState", DestUniqueid=C + "-a", DialStatus="RINGING"),
    )
    assert events == [CallRinging(SRV, C)]


# --- Asterisk orders events per channel only: any such interleaving must translate alike ------


def _call_messages(name: str) -> list[Message]:
    """The recording's messages about its customer call, in wire order."""
    ids = LabIds()
    decoder = Decoder()
    out: list[Message] = []
    for line in (FIXTURES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["dir"] != "in":
            continue
        for message in decoder.feed(record["data"].encode()):
            if not isinstance(message, Message):
                continue
            uid = message.get("Uniqueid") or message.get("DestUniqueid") or ""
            ref = ids.leg_of(uid)
            ours = ref is not None and ref.party is Party.CALL
            if ours or message.get("ActionID") == "orig-1":
                out.append(message)
    return out


def _channel_key(message: Message) -> str:
    if message.get("Event") is None:
        return "response"
    if message.get("Event") == "OriginateResponse":
        return "originate"
    return message.get("Uniqueid") or message.get("DestUniqueid") or ""


def _interleave(messages: list[Message], rnd: random.Random) -> list[Message]:
    """A random merge of the per-channel sequences; the action's response stays first."""
    queues: dict[str, list[Message]] = {}
    for message in messages:
        queues.setdefault(_channel_key(message), []).append(message)
    out = queues.pop("response")
    while queues:
        key = rnd.choice(sorted(queues))
        out.append(queues[key].pop(0))
        if not queues[key]:
            del queues[key]
    return out


_FAILURES = {
    "originate-busy": (5, DialFailure.BUSY),
    "originate-noanswer": (3, DialFailure.NO_ANSWER),
    "originate-congestion": (8, DialFailure.CONGESTION),
}


@pytest.mark.parametrize("name", sorted(_FAILURES))
@given(rnd=st.randoms(use_true_random=False))
def test_failed_call_reordered_still_fails_once(name: str, rnd: random.Random) -> None:
    """However channels interleave, a failed call yields one CallFailed and no hangups."""
    tr = Translator(S, LabIds(), LAB_NAMES)
    events = [e for m in _interleave(_call_messages(name), rnd) for e in tr.feed(m, 1.0)]
    failed = [e for e in events if isinstance(e, CallFailed)]
    assert len(failed) == 1
    assert (failed[0].reason, failed[0].outcome) == _FAILURES[name]
    assert events[0] == CallQueued(S, LEAD)
    assert not any(isinstance(e, ChannelHungUp | CallAnswered) for e in events)


@pytest.mark.parametrize("name", ["originate-answered", "originate-machine"])
@given(rnd=st.randoms(use_true_random=False))
def test_answered_call_reordered_is_answered_first(name: str, rnd: random.Random) -> None:
    """However channels interleave, the answer precedes the call's other facts, once each."""
    tr = Translator(S, LabIds(), LAB_NAMES)
    events = [e for m in _interleave(_call_messages(name), rnd) for e in tr.feed(m, 1.0)]
    kinds = [type(e) for e in events if not isinstance(e, CallRinging)]
    assert kinds[:2] == [CallQueued, CallAnswered]
    assert sorted(k.__name__ for k in kinds[2:]) == [
        "ChannelHungUp",
        "ChannelHungUp",
        "CustomerReady",
    ]
    legs = {e.leg for e in events if isinstance(e, ChannelHungUp)}
    assert legs == {Leg.CUSTOMER, Leg.PEER}


def test_a_reconnect_neither_repeats_an_answer_nor_loses_a_bridge() -> None:
    """Across a lost link an answered call stays answered, and bridges come from the snapshot."""
    tr = _contract_translator()
    answered = _feed(tr, _ev("OriginateResponse", ActionID=C, Response="Success", Reason="4"))
    assert answered == [CallAnswered(SRV, C)]
    tr.link_lost()
    snapshot = tr.snapshot(
        [
            _ev("CoreShowChannel", Uniqueid=C + "-a", BridgeId=""),
            _ev("CoreShowChannel", Uniqueid=A_SESSION + "-a", BridgeId="conf-7"),
        ]
    )
    assert snapshot.call_ids == frozenset({C})
    events = _feed(
        tr,
        _ev("UserEvent", UserEvent="DialerReady", DialerCallId=C),
        _ev("BridgeEnter", BridgeUniqueid="conf-7", Uniqueid=C + "-a"),
    )
    assert events == [CustomerReady(SRV, C), AgentConnected(SRV, C, "7")]


# --- the shipped dialplan on a real Asterisk ------------------------------------------------

REAL = Path(__file__).parent.parent / "fixtures" / "asterisk-dialerd"


def _real_messages(name: str) -> tuple[ContractIds, dict[str, str], list[tuple[float, Message]]]:
    """A ``scripts/asterisk_check.py`` recording: the ids its agent sessions had, the number
    each call dialled (by call id), and the messages received with their times."""
    ids = ContractIds()
    decoder = Decoder()
    numbers: dict[str, str] = {}
    received: list[tuple[float, Message]] = []
    for line in (REAL / name).read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["dir"] == "out":
            action = next(
                m
                for m in Decoder(expect_banner=False).feed(record["data"].encode())
                if isinstance(m, Message)
            )
            channel = action.get("Channel") or ""
            dialled = channel.removeprefix("Local/").split("@")[0]
            if action.get("Action") == "Originate" and "@sim-agents" in channel:
                ids.add_agent_session(action["ActionID"], dialled)
            elif action.get("Action") == "Originate":
                numbers[action["ActionID"]] = dialled
            continue
        for message in decoder.feed(record["data"].encode()):
            if isinstance(message, Message):
                received.append((float(record["t"]), message))
    return ids, numbers, received


def _replay_real(name: str) -> tuple[dict[str, str], list[AmiEvent]]:
    """A ``scripts/asterisk_check.py`` recording through the production translator.

    Returns the number each call dialled, by call id, and the translator's events.
    """
    ids, numbers, received = _real_messages(name)
    tr = Translator(SRV, ids)
    out = [e for t, message in received for e in tr.feed(message, t)]
    return numbers, out


@pytest.mark.parametrize("name", ["check-asterisk-20.jsonl", "check-asterisk-22.jsonl"])
def test_ringing_call_hung_up_on_real_asterisk_is_a_no_answer(name: str) -> None:
    """A call hung up while it rings (the pacer taking it back) fails once, as no answer."""
    numbers, events = _replay_real(name)
    call = next(c for c, number in numbers.items() if number.startswith("3"))
    mine = [e for e in events if getattr(e, "call_id", None) == call]
    assert mine == [
        CallQueued(SRV, call),
        CallRinging(SRV, call),
        CallFailed(SRV, call, 0, "NOANSWER", 16),
    ]
    assert mine[-1].outcome is DialFailure.NO_ANSWER  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["check-asterisk-20.jsonl", "check-asterisk-22.jsonl"])
def test_a_failure_that_overtakes_its_channels_still_tells_why(name: str) -> None:
    """On a real Asterisk a failure's OriginateResponse once came before any of its
    channel events. Moved there, the taken-back call still fails once, as no answer, with
    the dial status and cause its channels give, and nothing is left waiting."""
    ids, numbers, received = _real_messages(name)
    call = next(c for c, number in numbers.items() if number.startswith("3"))

    def is_failure(message: Message) -> bool:
        return message.get("Event") == "OriginateResponse" and message.get("ActionID") == call

    def names_call(message: Message) -> bool:
        uids = (message.get("Uniqueid") or "", message.get("DestUniqueid") or "")
        return any(uid.startswith(call) for uid in uids) or is_failure(message)

    first = next(i for i, (_, m) in enumerate(received) if names_call(m))
    failure = next(item for item in received if is_failure(item[1]))
    reordered = [item for item in received if item is not failure]
    reordered.insert(first, (received[first][0], failure[1]))
    tr = Translator(SRV, ids)
    events = [e for t, message in reordered for e in tr.feed(message, t)]
    mine = [e for e in events if getattr(e, "call_id", None) == call]
    assert mine == [
        CallQueued(SRV, call),
        CallRinging(SRV, call),
        CallFailed(SRV, call, 0, "NOANSWER", 16),
    ]
    assert tr.next_deadline() is None
