"""Facts about calls, agents and Asterisk servers, as the engine consumes them.

Every event is a small frozen dataclass named as a noun and carries the ``server`` it came
from (dialerd may drive several Asterisk servers). They are produced by the AMI translation
(``dialerd/ami/translate.py``) and by the AMI adapter (link and resync facts), and consumed by
the engine with ``match``.

Lifecycle of a call, as these events tell it:

* ``CallQueued`` (Asterisk accepted the Originate) → optionally ``CallRinging`` →
  exactly one of ``CallAnswered`` or ``CallFailed``.
* A failed call produces no ``ChannelHungUp``: its hangups are folded into ``CallFailed``
  (``dial_status`` from ``DialEnd``, ``cause`` from the legs' ``Hangup``).
* After ``CallAnswered``: ``AmdVerdict``, then ``CustomerReady`` or ``MachineDetected``, then
  ``AgentConnected`` or ``SafeHarborPlayed``, and finally ``ChannelHungUp`` for each leg. The
  call is over when its ``CUSTOMER`` leg hangs up.
* A ``ChannelHungUp`` may arrive for a call the engine already closed (Asterisk does not order
  events from different channels); it is to be ignored then.

Failure classification (rule, from Asterisk's ``pbx_dial_reason`` and ``dial.c``; units: Q.850
cause codes): the ``OriginateResponse`` ``Reason`` decides first — 5 busy, 8 congestion,
3 no answer. ``Reason 0`` (and the unused 1) is refined by the ``DialEnd`` status and the
hangup cause: BUSY/17 → busy; CONGESTION or 21, 27, 34, 38, 41, 42 → congestion; 1, 22, 28 →
invalid number; NOANSWER with 16, 18, 19 (rang, then the far end dropped) → no answer;
anything else → failed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Leg(enum.Enum):
    """Which channel of a call or agent session: the one we originate, or its Local peer."""

    CUSTOMER = "a"
    """The channel created with ``ChannelId`` (for an agent session: the agent's phone)."""
    PEER = "b"
    """The ``;2`` half of a Local channel (``OtherChannelId``); absent with real trunks."""


class Party(enum.Enum):
    """Whose channel it is."""

    CALL = "call"
    AGENT = "agent"


class DialFailure(enum.Enum):
    """Why a call was not answered, as the engine's retry rules see it."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    CONGESTION = "congestion"
    INVALID_NUMBER = "invalid_number"
    FAILED = "failed"


_CONGESTION_CAUSES = frozenset({21, 27, 34, 38, 41, 42})
_INVALID_CAUSES = frozenset({1, 22, 28})
_NO_ANSWER_CAUSES = frozenset({16, 18, 19})


def classify_failure(reason: int, dial_status: str | None, cause: int | None) -> DialFailure:
    """Classify an unanswered call; the rule is in this module's header."""
    match reason:
        case 5:
            return DialFailure.BUSY
        case 8:
            return DialFailure.CONGESTION
        case 3:
            return DialFailure.NO_ANSWER
    if dial_status == "BUSY" or cause == 17:
        return DialFailure.BUSY
    if dial_status == "CONGESTION" or cause in _CONGESTION_CAUSES:
        return DialFailure.CONGESTION
    if cause in _INVALID_CAUSES:
        return DialFailure.INVALID_NUMBER
    if dial_status == "NOANSWER" and cause in _NO_ANSWER_CAUSES:
        return DialFailure.NO_ANSWER
    return DialFailure.FAILED


# --- calls -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallQueued:
    """Asterisk accepted the Originate for ``call_id`` and is dialling."""

    server: str
    call_id: str


@dataclass(frozen=True, slots=True)
class CallRinging:
    """The far end of ``call_id`` started ringing (first ``DialState`` RINGING or PROGRESS)."""

    server: str
    call_id: str


@dataclass(frozen=True, slots=True)
class CallAnswered:
    """The far end answered (``OriginateResponse`` Success, ``Reason 4``)."""

    server: str
    call_id: str


@dataclass(frozen=True, slots=True)
class CallFailed:
    """The call ended without an answer.

    ``reason`` is the ``OriginateResponse`` ``Reason``; ``dial_status`` the ``DialEnd`` status
    if Asterisk sent one (it sends none on a no-answer timeout); ``cause`` the most telling
    Q.850 hangup cause of the call's channels, if any was created.
    """

    server: str
    call_id: str
    reason: int
    dial_status: str | None
    cause: int | None

    @property
    def outcome(self) -> DialFailure:
        """The failure as the retry rules see it."""
        return classify_failure(self.reason, self.dial_status, self.cause)


@dataclass(frozen=True, slots=True)
class AmdVerdict:
    """Answering-machine detection finished: ``status`` is HUMAN, MACHINE, NOTSURE or HANGUP."""

    server: str
    call_id: str
    status: str
    cause: str


@dataclass(frozen=True, slots=True)
class CustomerReady:
    """An answered customer (judged human, or AMD off) waits for an agent; the hold timer runs."""

    server: str
    call_id: str


@dataclass(frozen=True, slots=True)
class MachineDetected:
    """A machine answered; the dialplan ends the call (or drops a message)."""

    server: str
    call_id: str


@dataclass(frozen=True, slots=True)
class SafeHarborPlayed:
    """No agent within the hold time: the message was played and the call is abandoned."""

    server: str
    call_id: str


CallAbandoned = SafeHarborPlayed
"""The regulatory name of the same fact: an answered call never reached an agent."""


@dataclass(frozen=True, slots=True)
class AgentConnected:
    """The customer of ``call_id`` shares a bridge (the agent's conference) with ``agent_id``."""

    server: str
    call_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class ChannelHungUp:
    """A channel of ours hung up.

    ``party`` and ``party_id`` say whose channel (a call id, or an agent id); ``leg`` which of
    its channels. A call ends when its ``CUSTOMER`` leg hangs up.
    """

    server: str
    party: Party
    party_id: str
    leg: Leg
    cause: int
    cause_txt: str


# --- agent sessions --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentSessionReady:
    """The agent's phone answered and sits in the agent's conference, ready for customers."""

    server: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentSessionFailed:
    """Calling the agent's phone failed (``OriginateResponse`` Failure ``reason``)."""

    server: str
    agent_id: str
    reason: int


@dataclass(frozen=True, slots=True)
class AgentSessionGone:
    """The agent's phone left: hung up or dropped from its conference."""

    server: str
    agent_id: str


# --- servers ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkUp:
    """The AMI link to ``server`` is logged in and resynchronised; calls may be placed."""

    server: str
    uptime_s: int


@dataclass(frozen=True, slots=True)
class LinkDown:
    """The AMI link to ``server`` died; actions in flight failed and nothing will be re-sent.

    Calls on the server keep running in Asterisk (the dialplan's timers guard the customer);
    their fate is known again from the ``ChannelsSnapshot`` after the link comes back.
    """

    server: str
    reason: str


@dataclass(frozen=True, slots=True)
class AsteriskRestarted:
    """``server`` restarted (``Uptime`` went back, or it announced a restart): every channel
    it had is gone, including agent sessions."""

    server: str
    uptime_s: int


@dataclass(frozen=True, slots=True)
class ChannelsSnapshot:
    """The live channels of ``server`` right after a (re)connect (``CoreShowChannels``).

    ``call_ids`` and ``agent_ids`` are ours with at least one live channel; a call the engine
    believes in flight on this server but absent here ended while the link was down.
    """

    server: str
    uniqueids: frozenset[str]
    call_ids: frozenset[str]
    agent_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class CallNotPlaced:
    """The Originate for ``call_id`` did not get Asterisk's acceptance.

    ``maybe_placed`` is true when the action reached the wire before the link died or the
    deadline passed: Asterisk may still be dialling, and the next ``ChannelsSnapshot`` tells.
    """

    server: str | None
    call_id: str
    error: str
    maybe_placed: bool


AmiEvent = (
    CallQueued
    | CallRinging
    | CallAnswered
    | CallFailed
    | AmdVerdict
    | CustomerReady
    | MachineDetected
    | SafeHarborPlayed
    | AgentConnected
    | ChannelHungUp
    | AgentSessionReady
    | AgentSessionFailed
    | AgentSessionGone
    | LinkUp
    | LinkDown
    | AsteriskRestarted
    | ChannelsSnapshot
    | CallNotPlaced
)
"""Every fact the AMI side hands to the engine."""
