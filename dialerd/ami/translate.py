"""Translate AMI messages from one Asterisk server into core events.

Theory of operation: the translator is fed every message of one server's AMI session in the
order the socket delivered them (events, and the responses to our Originates) and returns
the core events (``dialerd.core.events``) they complete. It does no I/O; time is an argument.

Correlation uses only ids dialerd chose (``dialerd.ami.contract``): the Originate's
``ActionID`` is the call id ``C``, its channels' ``Uniqueid`` are ``C-a`` and ``C-b``, and the
dialplan's UserEvents name the call in a header. Agent sessions follow the same scheme; the
adapter registers each session id with its agent id (:meth:`ContractIds.add_agent_session`)
so their channels are told apart from calls. Channels with other ids are not ours and are
ignored. The id scheme and the dialplan names are parameters, so recorded lab sessions (with
their own ids) replay through the same code.

Rules it encodes (from Asterisk's behaviour as recorded, see ``tests/fixtures/ami``):

* ``OriginateResponse`` Success → ``CallAnswered``. Failure → ``CallFailed``, refined with the
  ``DialEnd`` status and the legs' ``Hangup`` causes. Asterisk does not order events from
  different channels: a failure's ``OriginateResponse`` may come before or after the legs hang
  up, so ``CallFailed`` waits until every leg seen so far is down. It may even come before the
  legs are seen at all (a soak on Asterisk 20 stored one busy call of 379 without its status
and cause, as that order did before this rule): a failure with no leg seen yet
  is held for ``LEG_GRACE_S``, for its channels' events to tell why, and then released by
  :meth:`Translator.expire` (the adapter calls it at :meth:`Translator.next_deadline`) or by
  the next message fed. A call whose channel was never created has nothing more to say and
  fails then with no dial status and no cause. On a no-answer timeout no
  ``DialEnd`` is sent (``dial_status`` is ``None``). A failed Originate's ``Uniqueid`` is the
  requested ``ChannelId`` or ``<unknown>``, so the ``ActionID`` is looked at first.
* Hangups of a call not yet answered are folded into ``CallFailed`` (or released after
  ``CallAnswered`` if the answer is reported late); other hangups become ``ChannelHungUp``.
* A customer and an agent in the same bridge (the agent's ConfBridge after a Redirect, or a
  bridge made by the ``Bridge`` action) → ``AgentConnected``, once per pairing.
* Restart: a ``FullyBooted`` whose ``Uptime`` puts the boot later than the previous one
  (beyond the one-second resolution of ``Uptime`` plus slack), or any ``FullyBooted`` after a
  ``Shutdown``, → ``AsteriskRestarted``; all per-call state is then dropped.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from dialerd.ami import contract
from dialerd.ami.codec import Message
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
    Leg,
    MachineDetected,
    Party,
    SafeHarborPlayed,
)

RESTART_SLACK_S = 2.0
"""How much later a boot may seem before it counts as a restart: ``Uptime`` is in whole
seconds and the two clocks are read at slightly different moments."""
LEG_GRACE_S = 1.0
"""How long a failure reported before any of its channels is held for their events."""
_CLOSED_MEMORY = 4096
_QUEUED_MESSAGE = "Originate successfully queued"


@dataclass(frozen=True, slots=True)
class LegRef:
    """Whose channel a ``Uniqueid`` is: a call's or an agent's, and which leg."""

    party: Party
    party_id: str
    leg: Leg


class IdScheme(Protocol):
    """Maps the ids dialerd chose back to calls and agents."""

    def leg_of(self, uniqueid: str) -> LegRef | None:
        """The owner of a channel, or ``None`` for a channel that is not ours."""
        ...

    def party_of_action(self, action_id: str) -> tuple[Party, str] | None:
        """The call or agent an Originate's ``ActionID`` stands for, if any."""
        ...


class ContractIds:
    """The production id scheme of ``dialerd.ami.contract``, plus the agent-session registry."""

    def __init__(self) -> None:
        self._agents: dict[str, str] = {}

    def add_agent_session(self, session_id: str, agent_id: str) -> None:
        """Declare that channels of ``session_id`` belong to ``agent_id``, not to a call."""
        self._agents[session_id] = agent_id

    def drop_agent_session(self, session_id: str) -> None:
        """Forget a session that is over."""
        self._agents.pop(session_id, None)

    def leg_of(self, uniqueid: str) -> LegRef | None:
        """See :class:`IdScheme`."""
        stem = contract.call_id_of(uniqueid)
        if stem is None:
            return None
        leg = Leg.CUSTOMER if uniqueid.endswith(contract.CUSTOMER_SUFFIX) else Leg.PEER
        agent = self._agents.get(stem)
        if agent is not None:
            return LegRef(Party.AGENT, agent, leg)
        return LegRef(Party.CALL, stem, leg)

    def party_of_action(self, action_id: str) -> tuple[Party, str] | None:
        """See :class:`IdScheme`."""
        agent = self._agents.get(action_id)
        if agent is not None:
            return (Party.AGENT, agent)
        if contract.call_id_of(action_id + contract.CUSTOMER_SUFFIX) == action_id:
            return (Party.CALL, action_id)
        return None


@dataclass(frozen=True, slots=True)
class DialplanNames:
    """The UserEvent, header and conference names the dialplan uses (``contract`` by default)."""

    amd: str = contract.EV_AMD
    ready: str = contract.EV_READY
    machine: str = contract.EV_MACHINE
    safe_harbor: str = contract.EV_SAFE_HARBOR
    connected: str = contract.EV_CONNECTED
    agent_ready: str = contract.EV_AGENT_READY
    agent_gone: str = contract.EV_AGENT_GONE
    h_call_id: str = contract.H_CALL_ID
    h_agent_id: str = contract.H_AGENT_ID
    h_amd_status: str = contract.H_AMD_STATUS
    h_amd_cause: str = contract.H_AMD_CAUSE
    conference_prefix: str = contract.CONFERENCE_PREFIX


@dataclass(slots=True)
class _Call:
    answered: bool = False
    ringing: bool = False
    dial_status: str | None = None
    failure_reason: int | None = None
    live: set[Leg] = field(default_factory=set)
    causes: dict[Leg, int] = field(default_factory=dict)
    held: list[ChannelHungUp] = field(default_factory=list)
    agent: str | None = None


class Translator:
    """Turns one server's AMI messages into core events; see the module header for the rules."""

    def __init__(self, server: str, ids: IdScheme, names: DialplanNames | None = None) -> None:
        self.server = server
        self.ids = ids
        self.names = names or DialplanNames()
        self._calls: dict[str, _Call] = {}
        # Failures reported before any of their legs, and until when they wait for them.
        self._held: dict[str, float] = {}
        self._now = 0.0
        # Calls already closed, with whether they had been answered: late events of a
        # failed call are dropped, late hangups of an answered one still reported.
        self._closed: OrderedDict[str, bool] = OrderedDict()
        self._agents: dict[str, bool] = {}  # agent id -> ready (True) or gone (False)
        self._bridges: dict[str, set[LegRef]] = {}
        self._boot_at: float | None = None
        self._restart_expected = False
        n = self.names
        self._events: dict[str, Callable[[Message], list[AmiEvent]]] = {
            "OriginateResponse": self._on_originate_response,
            "Newchannel": self._on_channel_seen,
            "Newstate": self._on_channel_seen,
            "DialBegin": self._on_dest_seen,
            "DialState": self._on_dial_state,
            "DialEnd": self._on_dial_end,
            "Hangup": self._on_hangup,
            "UserEvent": self._on_user_event,
            "BridgeEnter": self._on_bridge_enter,
            "BridgeLeave": self._on_bridge_leave,
            "BridgeDestroy": self._on_bridge_destroy,
            "ConfbridgeJoin": self._on_confbridge_join,
            "Shutdown": self._on_shutdown,
        }
        self._user_events: dict[str, Callable[[Message], list[AmiEvent]]] = {
            n.amd: self._on_amd,
            n.ready: self._call_fact(CustomerReady),
            n.machine: self._call_fact(MachineDetected),
            n.safe_harbor: self._call_fact(SafeHarborPlayed),
            n.connected: self._on_connected,
            n.agent_ready: self._on_agent_ready,
            n.agent_gone: self._on_agent_gone,
        }

    # --- entry points ------------------------------------------------------------------------

    def feed(self, message: Message, now: float) -> list[AmiEvent]:
        """Translate one message; ``now`` is monotonic seconds (restart detection, and how
        long a failure reported before its channels waits for them)."""
        self._now = max(self._now, now)
        out = self.expire(now) if self._held else []
        name = message.get("Event")
        if name is None:
            if message.get("Response") is not None:
                out.extend(self._on_response(message))
            return out
        if name == "FullyBooted":
            out.extend(self._on_fully_booted(message, now))
            return out
        handler = self._events.get(name)
        if handler is not None:
            out.extend(handler(message))
        return out

    def expire(self, now: float) -> list[AmiEvent]:
        """Release the failures whose channels did not show up within ``LEG_GRACE_S``."""
        self._now = max(self._now, now)
        out: list[AmiEvent] = []
        for call_id, until in list(self._held.items()):
            if until > self._now:
                continue
            del self._held[call_id]
            state = self._calls.get(call_id)
            if state is not None:
                # With legs seen meanwhile and still up, their hangups release it.
                out.extend(self._try_fail(call_id, state))
        return out

    def next_deadline(self) -> float | None:
        """When :meth:`expire` next has something to release, if ever."""
        return min(self._held.values(), default=None)

    def snapshot(self, items: Iterable[Message]) -> ChannelsSnapshot:
        """Build the resync fact from ``CoreShowChannel`` list items.

        Calls with no live channel are forgotten, and who shares a bridge with whom is
        rebuilt from the items' ``BridgeId`` (enters and leaves were missed while away).
        """
        uniqueids: set[str] = set()
        calls: set[str] = set()
        agents: set[str] = set()
        self._bridges.clear()
        for item in items:
            uid = item.get("Uniqueid")
            if uid is None:
                continue
            uniqueids.add(uid)
            ref = self.ids.leg_of(uid)
            if ref is None:
                continue
            (calls if ref.party is Party.CALL else agents).add(ref.party_id)
            bridge_id = item.get("BridgeId")
            if bridge_id:
                self._bridges.setdefault(bridge_id, set()).add(ref)
        # A failure held for its channels is kept: it is released when its time is up.
        for call_id in [c for c in self._calls if c not in calls and c not in self._held]:
            del self._calls[call_id]
        return ChannelsSnapshot(
            self.server, frozenset(uniqueids), frozenset(calls), frozenset(agents)
        )

    def link_lost(self) -> None:
        """The connection died: bridge membership may change unseen until the next snapshot.

        What is known about calls is kept (so an answered call is not announced again); the
        snapshot after the reconnect drops the calls that ended meanwhile.
        """
        self._bridges.clear()

    # --- helpers ----------------------------------------------------------------------------

    def _call(self, call_id: str) -> _Call | None:
        """The state of a call still open, creating it unless the call is already closed."""
        state = self._calls.get(call_id)
        if state is None and call_id not in self._closed:
            state = self._calls[call_id] = _Call()
        return state

    def _close(self, call_id: str, *, answered: bool) -> None:
        self._calls.pop(call_id, None)
        self._held.pop(call_id, None)
        self._closed[call_id] = answered
        if len(self._closed) > _CLOSED_MEMORY:
            self._closed.popitem(last=False)

    def _ref(self, message: Message, key: str = "Uniqueid") -> LegRef | None:
        uid = message.get(key)
        return None if uid is None else self.ids.leg_of(uid)

    def _call_of(self, message: Message) -> str | None:
        explicit = message.get(self.names.h_call_id)
        if explicit:
            return explicit
        ref = self._ref(message)
        return ref.party_id if ref is not None and ref.party is Party.CALL else None

    def _agent_of(self, message: Message) -> str | None:
        explicit = message.get(self.names.h_agent_id)
        if explicit:
            return explicit
        ref = self._ref(message)
        return ref.party_id if ref is not None and ref.party is Party.AGENT else None

    def _call_fact(
        self, kind: Callable[[str, str], AmiEvent]
    ) -> Callable[[Message], list[AmiEvent]]:
        def handle(message: Message) -> list[AmiEvent]:
            call_id = self._call_of(message)
            if call_id is None or call_id in self._closed:
                return []
            return [*self._answered(call_id), kind(self.server, call_id)]

        return handle

    def _answered(self, call_id: str) -> list[AmiEvent]:
        """``CallAnswered`` unless already said: the dialplan's UserEvents may overtake the
        ``OriginateResponse``, and the engine is promised an answer before what follows it."""
        state = self._call(call_id)
        if state is None or state.answered:
            return []
        state.answered = True
        out: list[AmiEvent] = [CallAnswered(self.server, call_id), *state.held]
        state.held.clear()
        if any(isinstance(h, ChannelHungUp) and h.leg is Leg.CUSTOMER for h in out):
            self._close(call_id, answered=True)
        return out

    def _try_fail(self, call_id: str, state: _Call) -> list[AmiEvent]:
        if state.failure_reason is None or state.live:
            return []
        if not state.causes and call_id in self._held:
            return []  # no leg seen yet: wait for them (or for ``expire``)
        causes = state.causes
        cause = causes.get(Leg.CUSTOMER) or causes.get(Leg.PEER)
        if cause is None and causes:
            cause = next(iter(causes.values()))
        self._close(call_id, answered=False)
        return [CallFailed(self.server, call_id, state.failure_reason, state.dial_status, cause)]

    # --- responses --------------------------------------------------------------------------

    def _on_response(self, message: Message) -> list[AmiEvent]:
        action_id = message.get("ActionID")
        if action_id is None:
            return []
        party = self.ids.party_of_action(action_id)
        if party is None or party[0] is not Party.CALL:
            return []
        call_id = party[1]
        if message["Response"] == "Success":
            if message.get("Message") == _QUEUED_MESSAGE:
                return [CallQueued(self.server, call_id)]
            return []
        self._close(call_id, answered=False)
        text = message.get("Message") or message["Response"]
        return [CallNotPlaced(self.server, call_id, f"Asterisk refused: {text}", False)]

    # --- channel events ---------------------------------------------------------------------

    def _on_originate_response(self, message: Message) -> list[AmiEvent]:
        party = None
        action_id = message.get("ActionID")
        if action_id is not None:
            party = self.ids.party_of_action(action_id)
        if party is None:
            ref = self._ref(message)
            party = None if ref is None else (ref.party, ref.party_id)
        if party is None:
            return []
        kind, owner = party
        success = message.get("Response") == "Success"
        reason = int(message.get("Reason") or 0)
        if kind is Party.AGENT:
            return [] if success else [AgentSessionFailed(self.server, owner, reason)]
        if success:
            return self._answered(owner)
        state = self._call(owner)
        if state is None or state.answered:
            return []
        state.failure_reason = reason
        if not state.live and not state.causes:
            self._held[owner] = self._now + LEG_GRACE_S
        return self._try_fail(owner, state)

    def _seen(self, ref: LegRef | None) -> None:
        if ref is not None and ref.party is Party.CALL:
            state = self._call(ref.party_id)
            if state is not None:
                state.live.add(ref.leg)

    def _on_channel_seen(self, message: Message) -> list[AmiEvent]:
        self._seen(self._ref(message))
        return []

    def _on_dest_seen(self, message: Message) -> list[AmiEvent]:
        self._seen(self._ref(message, "DestUniqueid"))
        return []

    def _on_dial_state(self, message: Message) -> list[AmiEvent]:
        ref = self._ref(message, "DestUniqueid")
        if ref is None or ref.party is not Party.CALL:
            return []
        state = self._call(ref.party_id)
        if state is None or state.answered or state.ringing:
            return []
        state.live.add(ref.leg)
        # PROGRESS counts too: carriers often send early media (183) with in-band ringback.
        if message.get("DialStatus") not in ("RINGING", "PROGRESS"):
            return []
        state.ringing = True
        return [CallRinging(self.server, ref.party_id)]

    def _on_dial_end(self, message: Message) -> list[AmiEvent]:
        ref = self._ref(message, "DestUniqueid")
        if ref is None or ref.party is not Party.CALL or ref.leg is not Leg.CUSTOMER:
            return []
        state = self._call(ref.party_id)
        if state is not None:
            state.live.add(ref.leg)
            state.dial_status = message.get("DialStatus")
        return []

    def _on_hangup(self, message: Message) -> list[AmiEvent]:
        ref = self._ref(message)
        if ref is None:
            return []
        cause = int(message.get("Cause") or 0)
        event = ChannelHungUp(
            self.server, ref.party, ref.party_id, ref.leg, cause, message.get("Cause-txt") or ""
        )
        if ref.party is Party.AGENT:
            out: list[AmiEvent] = [event]
            if ref.leg is Leg.CUSTOMER and self._agents.get(ref.party_id) is not False:
                self._agents[ref.party_id] = False
                out.append(AgentSessionGone(self.server, ref.party_id))
            return out
        call_id = ref.party_id
        state = self._calls.get(call_id)
        if state is None:
            # Not tracked: closed (drop late events of a failed call), or from before we
            # connected (report it; the engine ignores hangups of calls it closed).
            return [event] if self._closed.get(call_id, True) else []
        if state.answered:
            if ref.leg is Leg.CUSTOMER:
                self._close(call_id, answered=True)
            return [event]
        state.live.discard(ref.leg)
        state.causes[ref.leg] = cause
        state.held.append(event)
        return self._try_fail(call_id, state)

    # --- dialplan UserEvents ----------------------------------------------------------------

    def _on_user_event(self, message: Message) -> list[AmiEvent]:
        handler = self._user_events.get(message.get("UserEvent") or "")
        return handler(message) if handler is not None else []

    def _on_amd(self, message: Message) -> list[AmiEvent]:
        call_id = self._call_of(message)
        if call_id is None or call_id in self._closed:
            return []
        status = message.get(self.names.h_amd_status) or ""
        cause = message.get(self.names.h_amd_cause) or ""
        return [*self._answered(call_id), AmdVerdict(self.server, call_id, status, cause)]

    def _connect(self, call_id: str, agent_id: str) -> list[AmiEvent]:
        out = self._answered(call_id)
        state = self._calls.get(call_id)
        if state is None or state.agent == agent_id:
            return out
        state.agent = agent_id
        return [*out, AgentConnected(self.server, call_id, agent_id)]

    def _on_connected(self, message: Message) -> list[AmiEvent]:
        call_id = self._call_of(message)
        agent_id = message.get(self.names.h_agent_id)
        if call_id is None or not agent_id:
            return []
        return self._connect(call_id, agent_id)

    def _agent_ready(self, agent_id: str) -> list[AmiEvent]:
        if self._agents.get(agent_id) is True:
            return []
        self._agents[agent_id] = True
        return [AgentSessionReady(self.server, agent_id)]

    def _on_agent_ready(self, message: Message) -> list[AmiEvent]:
        agent_id = self._agent_of(message)
        return [] if agent_id is None else self._agent_ready(agent_id)

    def _on_agent_gone(self, message: Message) -> list[AmiEvent]:
        agent_id = self._agent_of(message)
        if agent_id is None or self._agents.get(agent_id) is False:
            return []
        self._agents[agent_id] = False
        return [AgentSessionGone(self.server, agent_id)]

    def _on_confbridge_join(self, message: Message) -> list[AmiEvent]:
        ref = self._ref(message)
        if ref is None or ref.party is not Party.AGENT or ref.leg is not Leg.CUSTOMER:
            return []
        if message.get("Conference") != self.names.conference_prefix + ref.party_id:
            return []
        return self._agent_ready(ref.party_id)

    # --- bridges ----------------------------------------------------------------------------

    def _on_bridge_enter(self, message: Message) -> list[AmiEvent]:
        ref = self._ref(message)
        bridge_id = message.get("BridgeUniqueid")
        if ref is None or bridge_id is None:
            return []
        members = self._bridges.setdefault(bridge_id, set())
        members.add(ref)
        calls = [m.party_id for m in members if m.party is Party.CALL]
        agents = [m.party_id for m in members if m.party is Party.AGENT]
        if len(agents) != 1:
            return []
        out: list[AmiEvent] = []
        for call_id in dict.fromkeys(calls):
            out.extend(self._connect(call_id, agents[0]))
        return out

    def _on_bridge_leave(self, message: Message) -> list[AmiEvent]:
        ref = self._ref(message)
        bridge_id = message.get("BridgeUniqueid") or ""
        members = self._bridges.get(bridge_id)
        if ref is not None and members is not None:
            members.discard(ref)
            if not members:
                # BridgeDestroy may be filtered out in manager.conf; do not rely on it.
                del self._bridges[bridge_id]
        return []

    def _on_bridge_destroy(self, message: Message) -> list[AmiEvent]:
        self._bridges.pop(message.get("BridgeUniqueid") or "", None)
        return []

    # --- server lifecycle -------------------------------------------------------------------

    def _on_shutdown(self, message: Message) -> list[AmiEvent]:
        del message
        self._restart_expected = True
        return []

    def _on_fully_booted(self, message: Message, now: float) -> list[AmiEvent]:
        try:
            uptime = int(message.get("Uptime") or 0)
        except ValueError:
            uptime = 0
        boot_at = now - uptime
        previous = self._boot_at
        self._boot_at = boot_at
        restarted = previous is not None and (
            self._restart_expected or boot_at > previous + RESTART_SLACK_S
        )
        self._restart_expected = False
        if not restarted:
            return []
        self._calls.clear()
        self._held.clear()
        self._bridges.clear()
        self._agents.clear()
        return [AsteriskRestarted(self.server, uptime)]
