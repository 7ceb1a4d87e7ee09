"""The simulated PBX: channels, Local pairs, bridges and conferences, and the events they raise.

Theory of operation: this module plays the part of Asterisk's core as seen through AMI. A
:class:`Pbx` owns every channel; a dialplan (:mod:`dialerd.sim.dialplan`) drives them by
calling the application methods here (``ringing``, ``answer``, ``busy``, ``confbridge``...),
and every state change raises the AMI event real Asterisk raises, with the same fields, in
the order the recordings in ``tests/fixtures/ami/`` show for each channel. Events go to one
sink callback; the AMI server fans them out to sessions.

Rules copied from real Asterisk (see the recordings and ``docs/asterisk.md``):

* An Originate of ``Local/<exten>@<context>`` makes two halves: ``;1`` (``ChannelId``) is
  dialled and, once answered, runs the Originate's own Context/Exten/Priority; ``;2``
  (``OtherChannelId``, else ``<ChannelId>;2``) runs ``<exten>@<context>``.
* ``OriginateResponse`` Reason: 4 answered, 5 busy, 8 congestion, 3 no answer at the
  Originate ``Timeout`` (no ``DialEnd`` then), 0 anything else. On failure ``Channel`` is the
  requested ``tech/data`` without the ``-0000000N;1`` suffix.
* A Hangup action on the dialled half while it rings ends the dial (``DialEnd``
  NOANSWER for cause 16), then that half, then the Originate (Failure, Reason 0), then the
  other half.
* Hanging up one half of a Local pair hangs up the other; a channel in a bridge leaves it
  first (``BridgeLeave``, ``BRIDGEPEER`` reset), and a conference with no user left ends.
* Redirect and Hangup look channels up by exact name or uniqueid; Bridge looks them up by
  name or uniqueid *prefix* (and so may find the ``;2`` half, as real Asterisk does).

Time-dependent values (Uniqueids without a ChannelId, bridge ids, timestamps) are derived
from the wall clock or random ids as in Asterisk; tests must not compare them.
"""

from __future__ import annotations

import abc
import asyncio
import itertools
import re
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import structlog

from dialerd.ami.codec import Message

log = structlog.get_logger(__name__)

STATE_DESC: Final = {
    0: "Down",
    1: "Rsrvd",
    2: "OffHook",
    3: "Dialing",
    4: "Ring",
    5: "Ringing",
    6: "Up",
    7: "Busy",
}
CAUSE_TEXT: Final = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
    21: "Call Rejected",
    34: "Circuit/channel congestion",
}
UNKNOWN: Final = "<unknown>"
# DialEnd's DialStatus for the cause a dialled channel ended with (Asterisk's
# ast_hangup_cause_to_dial_status; anything else is NOANSWER).
_DIAL_STATUS: Final = {17: "BUSY", 34: "CONGESTION", 3: "CHANUNAVAIL", 20: "CHANUNAVAIL"}

# OriginateResponse Reason codes (old control-frame numbers).
REASON_FAILED: Final = 0
REASON_NO_ANSWER: Final = 3
REASON_ANSWERED: Final = 4
REASON_BUSY: Final = 5
REASON_CONGESTION: Final = 8

EventSink = Callable[[Message, str | None], None]
HangupHandler = tuple[str, str, int, str]
"""A pushed hangup handler: context, extension, priority and its argument."""
"""Receives every event with its ordering key (the channel it belongs to, if any)."""


@dataclass(eq=False)
class Channel:
    """One simulated channel and the snapshot AMI events carry for it."""

    name: str
    uniqueid: str
    linkedid: str
    context: str
    exten: str
    priority: int = 1
    state: int = 0
    cid_num: str = UNKNOWN
    cid_name: str = UNKNOWN
    conn_num: str = UNKNOWN
    conn_name: str = UNKNOWN
    app: str = ""
    app_data: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    pair: LocalPair | None = None
    bridge: Bridge | None = None
    created: float = field(default_factory=time.monotonic)
    task: asyncio.Task[None] | None = None
    gone: bool = False
    in_dialplan: bool = False
    ran_pbx: bool = False
    pending_cid: tuple[str, str] | None = None
    hangup_handlers: list[HangupHandler] = field(default_factory=list)
    after_bridge: tuple[str, str, int] | None = None
    kicked: asyncio.Future[str] | None = None

    @property
    def half(self) -> int:
        """1 or 2 for a Local channel's halves, 0 for any other channel."""
        return 0 if self.pair is None else (1 if self.pair.one is self else 2)

    @property
    def other(self) -> Channel | None:
        """The other half of a Local pair."""
        if self.pair is None:
            return None
        return self.pair.two if self.pair.one is self else self.pair.one

    def snapshot(self, prefix: str = "") -> list[tuple[str, str]]:
        """The channel-state headers every channel event carries."""
        return [
            (prefix + "Channel", self.name),
            (prefix + "ChannelState", str(self.state)),
            (prefix + "ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            (prefix + "CallerIDNum", self.cid_num),
            (prefix + "CallerIDName", self.cid_name),
            (prefix + "ConnectedLineNum", self.conn_num),
            (prefix + "ConnectedLineName", self.conn_name),
            (prefix + "Language", "en"),
            (prefix + "AccountCode", ""),
            (prefix + "Context", self.context),
            (prefix + "Exten", self.exten),
            (prefix + "Priority", str(self.priority)),
            (prefix + "Uniqueid", self.uniqueid),
            (prefix + "Linkedid", self.linkedid),
        ]


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    """What an Originate action asked for, kept until its OriginateResponse."""

    action_id: str | None
    channel: str
    context: str
    exten: str
    priority: int
    timeout_s: float
    cid_num: str
    cid_name: str
    variables: tuple[tuple[str, str], ...]
    channel_id: str | None
    other_channel_id: str | None


@dataclass(eq=False)
class LocalPair:
    """The two halves of a Local channel and the Originate that created them."""

    one: Channel
    two: Channel
    request: OriginateRequest
    device: str
    dialing: bool = True
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    timer: asyncio.TimerHandle | None = None
    done: asyncio.Future[int] | None = None
    draw: Any = None


@dataclass(eq=False)
class Bridge:
    """A bridge (basic from the Bridge action, softmix for a ConfBridge conference)."""

    uniqueid: str
    type: str
    technology: str
    creator: str
    name: str
    members: list[Channel] = field(default_factory=list)
    conference: Conference | None = None

    def snapshot(self, count: int | None = None) -> list[tuple[str, str]]:
        """The bridge-state headers every bridge event carries."""
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", self.type),
            ("BridgeTechnology", self.technology),
            ("BridgeCreator", self.creator),
            ("BridgeName", self.name),
            ("BridgeNumChannels", str(self.count() if count is None else count)),
            ("BridgeVideoSourceMode", "none"),
        ]

    def count(self) -> int:
        """Channels in the bridge, counting a conference's announcer."""
        extra = 1 if self.conference is not None and self.conference.announcer else 0
        return len(self.members) + extra


@dataclass(eq=False)
class Conference:
    """A ConfBridge conference: its bridge, announcer channel name and member profiles."""

    name: str
    bridge: Bridge
    announcer: str
    marked: set[Channel] = field(default_factory=set)
    end_marked: set[Channel] = field(default_factory=set)


class Pbx:
    """The channel model: creates, changes and ends channels, raising their AMI events."""

    def __init__(
        self,
        sink: EventSink,
        *,
        time_scale: float = 1.0,
        answer_settle_s: float = 0.5,
    ) -> None:
        self._sink = sink
        self.time_scale = time_scale
        self.answer_settle_s = answer_settle_s
        self.channels: dict[str, Channel] = {}
        self.conferences: dict[str, Conference] = {}
        self._seq = itertools.count()
        self._uid = itertools.count(1)
        self.boot = time.time()
        self._boot_monotonic = time.monotonic()
        self.dialplan: Dialplan | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    # ---- events -------------------------------------------------------------------------

    def emit(
        self,
        name: str,
        headers: Iterable[tuple[str, str]],
        *,
        privilege: str = "call,all",
        key: str | None = None,
    ) -> None:
        """Raise one AMI event; ``key`` names the channel it must stay in order with."""
        msg = Message((("Event", name), ("Privilege", privilege), *headers))
        self._sink(msg, key)

    def chan_event(self, name: str, ch: Channel, *extra: tuple[str, str], priv: str = "") -> None:
        """Raise an event made of a channel snapshot and extra headers."""
        self.emit(name, [*ch.snapshot(), *extra], privilege=priv or "call,all", key=ch.uniqueid)

    def varset(self, ch: Channel, name: str, value: str) -> None:
        """Set a channel variable and raise ``VarSet``."""
        ch.variables[name] = value
        self.chan_event("VarSet", ch, ("Variable", name), ("Value", value), priv="dialplan,all")

    def newstate(self, ch: Channel, state: int) -> None:
        """Change a channel's state and raise ``Newstate``."""
        ch.state = state
        self.chan_event("Newstate", ch)

    def device_state(self, device: str, state: str) -> None:
        """Raise ``DeviceStateChange`` (racy in real Asterisk; kept for the look of it)."""
        self.emit("DeviceStateChange", [("Device", device), ("State", state)])

    def dial_event(self, name: str, ch: Channel, *extra: tuple[str, str]) -> None:
        """Raise ``DialBegin``/``DialState``/``DialEnd`` for an originated half (no caller)."""
        self.emit(name, [*ch.snapshot("Dest"), *extra], key=ch.uniqueid)

    # ---- lookups ------------------------------------------------------------------------

    def find_exact(self, name: str) -> Channel | None:
        """A live channel by exact name or uniqueid (Redirect, Hangup, Status)."""
        ch = self.channels.get(name)
        if ch is not None:
            return ch
        for candidate in self.channels.values():
            if candidate.uniqueid == name:
                return candidate
        return None

    def find_prefix(self, text: str) -> Channel | None:
        """A live channel by name or uniqueid prefix (Bridge); the newest match wins."""
        matches = [
            c
            for c in self.channels.values()
            if c.name.startswith(text) or c.uniqueid.startswith(text)
        ]
        return max(matches, key=lambda c: c.created) if matches else None

    def new_uniqueid(self) -> str:
        """A uniqueid in Asterisk's ``<epoch>.<counter>`` form."""
        return f"{int(self.boot)}.{next(self._uid)}"

    def next_seq(self) -> int:
        """The next channel sequence number (the ``-0000000N`` in Local channel names)."""
        return next(self._seq)

    def sim_now(self) -> float:
        """Epoch seconds on the simulated clock (real time divided by the time scale)."""
        return self.boot + (time.monotonic() - self._boot_monotonic) / self.time_scale

    def scaled(self, seconds: float) -> float:
        """Wall-clock seconds for a dialplan duration under the configured time scale."""
        return max(0.0, seconds * self.time_scale)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a coroutine owned by the PBX (cancelled on shutdown)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sim_dialplan_failed", error=repr(task.exception()))

    # ---- originate ----------------------------------------------------------------------

    def originate_local(self, req: OriginateRequest, exten: str, context: str) -> LocalPair:
        """Create a Local pair for an Originate and start dialling its ``;2`` half."""
        seq = self.next_seq()
        base = f"Local/{exten}@{context}-{seq:08x}"
        uid1 = req.channel_id or self.new_uniqueid()
        if req.other_channel_id:
            uid2 = req.other_channel_id
        elif req.channel_id:
            uid2 = req.channel_id + ";2"
        else:
            uid2 = self.new_uniqueid()
        one = Channel(base + ";1", uid1, uid1, context, exten, state=0)
        two = Channel(base + ";2", uid2, uid1, context, exten, state=4)
        pair = LocalPair(one, two, req, device=f"Local/{exten}@{context}")
        pair.done = asyncio.get_running_loop().create_future()
        one.pair = two.pair = pair
        self.channels[one.name] = one
        self.channels[two.name] = two
        self.chan_event("Newchannel", one)
        self.chan_event("Newchannel", two)
        one.app, one.app_data = "AppDial2", "(Outgoing Line)"
        self.chan_event(
            "Newexten",
            one,
            ("Extension", one.exten),
            ("Application", one.app),
            ("AppData", one.app_data),
            priv="dialplan,all",
        )
        if self.dialplan is None or not self.dialplan.has_context(context):
            self._fail_unroutable(pair)
            return pair
        for name, value in reversed(req.variables):
            self.varset(one, name, value)
        if req.cid_num != UNKNOWN or req.cid_name != UNKNOWN:
            one.cid_num, one.cid_name = req.cid_num, req.cid_name
            self.chan_event("NewCallerid", one, _CID_PRES)
            one.conn_num, one.conn_name = req.cid_num, req.cid_name
            self.chan_event("NewConnectedLine", one)
        for name, value in req.variables:
            self.varset(two, name, value)
        if req.cid_num != UNKNOWN or req.cid_name != UNKNOWN:
            two.cid_num, two.cid_name = req.cid_num, req.cid_name
            two.conn_num, two.conn_name = req.cid_num, req.cid_name
            self.chan_event("NewCallerid", two, _CID_PRES)
            self.chan_event("NewConnectedLine", two)
        self.emit(
            "LocalBridge",
            [
                *one.snapshot("LocalOne"),
                *two.snapshot("LocalTwo"),
                ("Context", context),
                ("Exten", exten),
                ("LocalOptimization", "Yes"),
            ],
        )
        self.dial_event("DialBegin", one, ("DialString", f"{exten}@{context}"))
        loop = asyncio.get_running_loop()
        pair.timer = loop.call_later(self.scaled(req.timeout_s), self._no_answer, pair)
        self.run_dialplan(two, context, exten, 1)
        return pair

    def _originate_response(self, pair: LocalPair, reason: int) -> None:
        req = pair.request
        ok = reason == REASON_ANSWERED
        headers: list[tuple[str, str]] = []
        if req.action_id is not None:
            headers.append(("ActionID", req.action_id))
        headers += [
            ("Response", "Success" if ok else "Failure"),
            ("Channel", pair.one.name if ok else req.channel),
            ("Context", req.context),
            ("Exten", req.exten),
            ("Reason", str(reason)),
            ("Uniqueid", req.channel_id or UNKNOWN),
            ("CallerIDNum", req.cid_num),
            ("CallerIDName", req.cid_name),
        ]
        self.emit("OriginateResponse", headers)
        pair.dialing = False
        if pair.timer is not None:
            pair.timer.cancel()
        if pair.done is not None and not pair.done.done():
            pair.done.set_result(reason)

    def originate_failed_early(self, req: OriginateRequest) -> None:
        """An Originate whose channel could not even be created (unknown technology)."""
        headers: list[tuple[str, str]] = []
        if req.action_id is not None:
            headers.append(("ActionID", req.action_id))
        headers += [
            ("Response", "Failure"),
            ("Channel", req.channel),
            ("Context", req.context),
            ("Exten", req.exten),
            ("Reason", str(REASON_FAILED)),
            ("Uniqueid", req.channel_id or UNKNOWN),
            ("CallerIDNum", req.cid_num),
            ("CallerIDName", req.cid_name),
        ]
        self.emit("OriginateResponse", headers)

    def _fail_unroutable(self, pair: LocalPair) -> None:
        self._originate_response(pair, REASON_FAILED)
        self._hangup_event(pair.two, 0)
        self._hangup_event(pair.one, 0)
        self.device_state(pair.device, "INVALID")
        self.device_state(pair.device, "INVALID")

    def _no_answer(self, pair: LocalPair) -> None:
        if not pair.dialing or pair.two.gone:
            return
        two, one = pair.two, pair.one
        self.chan_event("HangupRequest", two, ("Cause", "19"))
        self.chan_event("SoftHangupRequest", two, ("Cause", "16"))
        self._stop(two)
        self._hangup_event(one, 19)
        self._hangup_event(two, 19)
        self.device_state(pair.device, "NOT_INUSE")
        self.device_state(pair.device, "NOT_INUSE")
        self._originate_response(pair, REASON_NO_ANSWER)

    # ---- applications the far end (``;2``) runs -------------------------------------------

    def ringing(self, ch: Channel) -> None:
        """``Ringing()``: the dialled half shows Ringing and the dial reports RINGING."""
        one = ch.other
        if ch.half == 2 and one is not None and ch.pair is not None and ch.pair.dialing:
            self.newstate(one, 5)
            self.dial_event("DialState", one, ("DialStatus", "RINGING"))
            self.device_state(ch.pair.device, "INUSE")
        elif ch.state != 6:
            self.newstate(ch, 5)

    async def answer(self, ch: Channel) -> None:
        """``Answer()``: answers, completes a pending Originate, then lets media settle."""
        if ch.state == 6:
            return
        self.newstate(ch, 6)
        pair = ch.pair
        if ch.half == 2 and pair is not None and pair.dialing:
            self.device_state(pair.device, "INUSE")
            one = pair.one
            self._originate_response(pair, REASON_ANSWERED)
            self.newstate(one, 6)
            self.dial_event("DialEnd", one, ("DialStatus", "ANSWER"))
            req = pair.request
            self.run_dialplan(one, req.context, req.exten, req.priority)
            self.device_state(pair.device, "INUSE")
        settle = self.answer_settle_s
        if self.dialplan is not None:
            settle = self.dialplan.answer_settle_s(ch, settle)
        await asyncio.sleep(self.scaled(settle))

    def busy_or_congestion(self, ch: Channel, busy: bool) -> None:
        """``Busy()``/``Congestion()`` on the dialled far end: the Originate fails at once."""
        pair = ch.pair
        self.newstate(ch, 7)
        if ch.half != 2 or pair is None or not pair.dialing:
            return
        one = pair.one
        if busy:
            self.device_state(pair.device, "INUSE")
        self.dial_event("DialEnd", one, ("DialStatus", "BUSY" if busy else "CONGESTION"))
        self.chan_event("HangupRequest", ch, ("Cause", "0"))
        self._originate_response(pair, REASON_BUSY if busy else REASON_CONGESTION)
        self._hangup_event(one, 0)
        self.chan_event("SoftHangupRequest", ch, ("Cause", "16"))
        self._stop(ch)
        self._hangup_event(ch, 17 if busy else 34)
        self.device_state(pair.device, "NOT_INUSE")
        self.device_state(pair.device, "NOT_INUSE")

    def hangup_app(self, ch: Channel, cause: int = 16) -> None:
        """``Hangup()`` run by a channel's own dialplan."""
        pair = ch.pair
        if ch.half == 2 and pair is not None and pair.dialing:
            one = pair.one
            self.dial_event("DialEnd", one, ("DialStatus", _DIAL_STATUS.get(cause, "NOANSWER")))
            self.chan_event("HangupRequest", ch, ("Cause", str(cause)))
            self._originate_response(pair, REASON_FAILED)
            self._hangup_event(one, 0)
            self.chan_event("SoftHangupRequest", ch, ("Cause", "16"))
            self._stop(ch)
            self._hangup_event(ch, cause)
            return
        self.chan_event("SoftHangupRequest", ch, ("Cause", str(cause)))
        self.hangup(ch, cause, initiator=True)

    # ---- hangup -------------------------------------------------------------------------

    def hangup(self, ch: Channel, cause: int = 16, *, initiator: bool = False) -> None:
        """End a channel (and its Local partner), leaving any bridge first.

        ``initiator`` is true when the channel's own dialplan asked (its SoftHangupRequest
        is already out); otherwise the request came from outside (AMI Hangup, a restart).
        """
        if ch.gone:
            return
        pair = ch.pair
        if pair is not None and pair.dialing:
            # Hanging up a half that is still being dialled cancels the Originate: the
            # dial ends first (as recorded from Asterisk 22: NOANSWER for cause 16).
            other = ch.other
            self.dial_event(
                "DialEnd", pair.one, ("DialStatus", _DIAL_STATUS.get(cause, "NOANSWER"))
            )
            self._stop(ch)
            self._hangup_event(ch, cause)
            self._originate_response(pair, REASON_FAILED)
            if other is not None and not other.gone:
                self._stop(other)
                self._hangup_event(other, cause)
            return
        other = ch.other
        if not initiator:
            self.leave_bridge(ch)
            self.chan_event("SoftHangupRequest", ch, ("Cause", str(cause)))
        self._stop(ch)
        if other is not None and not other.gone:
            self.chan_event("HangupRequest", other, ("Cause", str(cause)))
            self.leave_bridge(other)
            if other.in_dialplan:
                self.chan_event("SoftHangupRequest", other, ("Cause", "16"))
            self._stop(other)
            self._hangup_event(ch, cause)
            self._hangup_event(other, cause)
            if pair is not None:
                self.device_state(pair.device, "NOT_INUSE")
                self.device_state(pair.device, "NOT_INUSE")
        else:
            self._hangup_event(ch, cause)

    def _stop(self, ch: Channel) -> None:
        task, ch.task = ch.task, None
        ch.in_dialplan = False
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _hangup_event(self, ch: Channel, cause: int) -> None:
        if ch.gone:
            return
        ch.gone = True
        self._stop(ch)
        if ch.bridge is not None:
            self.leave_bridge(ch)
        if self.dialplan is not None and ch.ran_pbx:
            self.dialplan.run_h(self, ch)
        for handler in ch.hangup_handlers:
            if self.dialplan is not None:
                self.dialplan.run_handler(self, ch, handler)
        ch.hangup_handlers.clear()
        self.chan_event(
            "Hangup", ch, ("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))
        )
        self.channels.pop(ch.name, None)
        if ch.kicked is not None and not ch.kicked.done():
            ch.kicked.cancel()

    # ---- dialplan ------------------------------------------------------------------------

    def run_dialplan(self, ch: Channel, context: str, exten: str, priority: int) -> None:
        """Start (or move) a channel's dialplan at a location, as an async goto does."""
        self._stop(ch)
        if self.dialplan is None:
            return
        ch.context, ch.exten, ch.priority = context, exten, priority
        ch.in_dialplan = True
        ch.ran_pbx = True
        ch.task = self.spawn(self.dialplan.execute(self, ch, context, exten, priority))

    def redirect(self, ch: Channel, context: str, exten: str, priority: int) -> None:
        """The Redirect action: out of any bridge, then run the new location."""
        ch.after_bridge = None
        self.leave_bridge(ch, result="")
        self.run_dialplan(ch, context, exten, priority)

    # ---- bridges and conferences ---------------------------------------------------------

    def _peers_value(self, bridge: Bridge, ch: Channel) -> str:
        names = [bridge.conference.announcer] if bridge.conference is not None else []
        names += [m.name for m in bridge.members if m is not ch]
        return ",".join(n for n in names if n)

    def confbridge_join(self, ch: Channel, conf_name: str, user_profile: str) -> None:
        """``ConfBridge(conf)``: create the conference if needed and put the channel in."""
        conf = self.conferences.get(conf_name)
        first = conf is None
        if conf is None:
            bridge = Bridge(str(uuid.uuid4()), "base", "softmix", "ConfBridge", conf_name)
            announcer = f"CBAnn/{conf_name}-{self.next_seq():08x};2"
            conf = Conference(conf_name, bridge, "")
            bridge.conference = conf
            self.conferences[conf_name] = conf
            self.emit("BridgeCreate", bridge.snapshot(0))
            conf.announcer = announcer
            self.emit("ConfbridgeStart", [("Conference", conf_name), *bridge.snapshot()])
            self.device_state(f"confbridge:{conf_name}", "INUSE")
        bridge = conf.bridge
        if user_profile.endswith("agent") or "marked" in user_profile:
            conf.marked.add(ch)
        if user_profile.endswith("customer"):
            conf.end_marked.add(ch)
        bridge.members.append(ch)
        ch.bridge = bridge
        if ch.pair is not None:
            ch.pair.connected.set()
        joined = [("Conference", conf_name), *bridge.snapshot(), *ch.snapshot()]
        if not first:
            self.emit(
                "ConfbridgeJoin", [*joined, ("Admin", "No"), ("Muted", "No")], key=ch.uniqueid
            )
        self.emit("BridgeEnter", [*bridge.snapshot(), *ch.snapshot()], key=ch.uniqueid)
        for member in bridge.members:
            if member is not ch:
                self.varset(member, "BRIDGEPEER", self._peers_value(bridge, member))
        self.varset(ch, "BRIDGEPEER", self._peers_value(bridge, ch))
        if first:
            self.emit(
                "ConfbridgeJoin", [*joined, ("Admin", "No"), ("Muted", "No")], key=ch.uniqueid
            )

    def leave_bridge(self, ch: Channel, result: str = "HANGUP") -> None:
        """Take a channel out of its bridge, ending the conference or basic bridge if due."""
        bridge = ch.bridge
        if bridge is None:
            return
        conf = bridge.conference
        self.varset(ch, "BRIDGEPEER", "")
        if ch.pending_cid is not None:
            ch.cid_num, ch.cid_name = ch.pending_cid
            ch.pending_cid = None
            self.chan_event("NewCallerid", ch, _CID_PRES)
        if conf is not None:
            self.emit(
                "ConfbridgeLeave",
                [("Conference", conf.name), *bridge.snapshot(), *ch.snapshot(), ("Admin", "No")],
                key=ch.uniqueid,
            )
        bridge.members.remove(ch)
        ch.bridge = None
        ending = conf is not None and not bridge.members
        if ending and conf is not None:
            self.emit("ConfbridgeEnd", [("Conference", conf.name), *bridge.snapshot()])
        self.emit("BridgeLeave", [*bridge.snapshot(), *ch.snapshot()], key=ch.uniqueid)
        if conf is None:
            for member in list(bridge.members):
                self.varset(member, "BRIDGEPEER", "")
        else:
            for member in bridge.members:
                self.varset(member, "BRIDGEPEER", self._peers_value(bridge, member))
        if conf is not None and result:
            self.varset(ch, "CONFBRIDGE_RESULT", result)
        if ending and conf is not None:
            self.device_state(f"confbridge:{conf.name}", "NOT_INUSE")
            conf.announcer = ""
            self.device_state(f"CBAnn/{conf.name}", "UNKNOWN")
            self.emit("BridgeDestroy", bridge.snapshot(0))
            del self.conferences[conf.name]
        if conf is not None:
            was_marked = ch in conf.marked
            conf.marked.discard(ch)
            conf.end_marked.discard(ch)
            if was_marked and not conf.marked:
                for member in list(bridge.members):
                    kicked = member.kicked
                    if member in conf.end_marked and kicked is not None and not kicked.done():
                        kicked.set_result("ENDMARKED")
        elif bridge.members:
            # A basic bridge of two dissolves when one leaves; the other resumes its dialplan.
            rest = bridge.members[0]
            bridge.members.clear()
            rest.bridge = None
            self.emit("BridgeLeave", [*bridge.snapshot(0), *rest.snapshot()], key=rest.uniqueid)
            self.emit("BridgeDestroy", bridge.snapshot(0))
            if rest.after_bridge is not None:
                context, exten, priority = rest.after_bridge
                rest.after_bridge = None
                self.run_dialplan(rest, context, exten, priority)
        else:
            self.emit("BridgeDestroy", bridge.snapshot(0))

    def bridge_pair(self, a: Channel, b: Channel) -> None:
        """The Bridge action: a basic bridge; each channel resumes at its next priority after."""
        bridge = Bridge(str(uuid.uuid4()), "basic", "simple_bridge", "<unknown>", "<unknown>")
        for ch in (a, b):
            self.leave_bridge(ch)
            ch.after_bridge = (ch.context, ch.exten, ch.priority + 1)
            self._stop(ch)
            ch.priority += 1
            ch.app, ch.app_data = "", ""
        self.emit("BridgeCreate", bridge.snapshot(0))
        for ch in (a, b):
            bridge.members.append(ch)
            ch.bridge = bridge
            self.emit("BridgeEnter", [*bridge.snapshot(), *ch.snapshot()], key=ch.uniqueid)
        oldest = min((a, b), key=lambda c: c.created)
        for ch in (a, b):
            ch.linkedid = oldest.linkedid
        self.varset(a, "BRIDGEPEER", b.name)
        self.varset(b, "BRIDGEPEER", a.name)
        a_id, b_id = (a.cid_num, a.cid_name), (b.cid_num, b.cid_name)
        a.conn_num, a.conn_name = b_id
        self.chan_event("NewConnectedLine", a)
        b.conn_num, b.conn_name = a_id
        self.chan_event("NewConnectedLine", b)
        # A Local half's connected line becomes its partner's caller id; the partner shows
        # it when it next changes state (seen in the connect-bridge recording).
        for ch in (a, b):
            partner = ch.other
            if (
                partner is not None
                and ch.conn_num != UNKNOWN
                and (ch.conn_num, ch.conn_name) != (partner.cid_num, partner.cid_name)
            ):
                partner.pending_cid = (ch.conn_num, ch.conn_name)
        bridge.type = "basic"

    # ---- shutdown -------------------------------------------------------------------------

    def shutdown(self) -> None:
        """``core restart now``: every channel is hung up (cause 4 first), then nothing is left."""
        for ch in sorted(self.channels.values(), key=lambda c: (c.created, c.half)):
            if ch.gone or ch.half == 2:
                continue
            pair = ch.pair
            if pair is not None and pair.dialing:
                self.hangup(ch, 0)
                continue
            self.chan_event("SoftHangupRequest", ch, ("Cause", "4"))
            self.leave_bridge(ch)
            other = ch.other
            if other is None:
                self._hangup_event(ch, 16)
                continue
            self.chan_event("SoftHangupRequest", other, ("Cause", "4"))
            self.chan_event("SoftHangupRequest", other, ("Cause", "16"))
            self.chan_event("HangupRequest", ch, ("Cause", "0"))
            self._stop(other)
            self._hangup_event(other, 0)
            self.chan_event("SoftHangupRequest", ch, ("Cause", "16"))
            self._hangup_event(ch, 16)
            self.device_state(pair.device if pair else ch.name, "NOT_INUSE")
        for ch in list(self.channels.values()):
            self._hangup_event(ch, 16)
        for task in list(self.tasks):
            task.cancel()

    def live_channels(self) -> Iterator[Channel]:
        """Every channel that exists, oldest first."""
        return iter(sorted(self.channels.values(), key=lambda c: (c.created, c.half)))


_CID_PRES: Final = ("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")


class Dialplan(abc.ABC):
    """What a PBX runs: the interface :mod:`dialerd.sim.dialplan` implements."""

    @abc.abstractmethod
    def has_context(self, context: str) -> bool:
        """Whether a context exists."""

    @abc.abstractmethod
    async def execute(self, pbx: Pbx, ch: Channel, context: str, exten: str, priority: int) -> None:
        """Run a channel from a location until it hangs up or is moved."""

    @abc.abstractmethod
    def run_handler(self, pbx: Pbx, ch: Channel, handler: HangupHandler) -> None:
        """Run a hangup handler synchronously (it may only raise events)."""

    def run_h(self, pbx: Pbx, ch: Channel) -> None:  # noqa: B027 - optional: none by default
        """Run the ``h`` extension of the channel's context at hangup, if there is one."""

    def answer_settle_s(self, ch: Channel, default: float) -> float:
        """How long ``Answer()`` waits for media on this channel."""
        return default


def parse_callerid(text: str | None) -> tuple[str, str]:
    """Split ``"Name" <number>`` (or a bare number) into (number, name)."""
    if not text:
        return UNKNOWN, UNKNOWN
    m = re.fullmatch(r'\s*"?([^"<]*?)"?\s*<([^>]*)>\s*', text)
    if m:
        return (m.group(2) or UNKNOWN), (m.group(1).strip() or UNKNOWN)
    return text.strip(), UNKNOWN
