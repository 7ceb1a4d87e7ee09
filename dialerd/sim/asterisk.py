"""A simulated Asterisk that speaks AMI over TCP, for end-to-end tests and the demo.

It answers the actions a dialer uses the way the recordings in ``tests/fixtures/ami/`` show
real Asterisk answering them (banner, Login, Originate and ``OriginateResponse``, Redirect,
Bridge, Hangup, Ping, CoreShowChannels, Status, Setvar/Getvar, unknown actions) and plays a
dialplan (:mod:`dialerd.sim.dialplan`) whose channels raise the events real Asterisk raises.

Fault switches for tests: :meth:`SimAsterisk.drop_connections` (a TCP reset),
:meth:`SimAsterisk.set_answer_pings` (a half-open link that stops answering Ping),
:meth:`SimAsterisk.restart` (``core restart now``: ``Shutdown``, socket closed, back with
``Uptime`` reset and no channels) and :meth:`SimAsterisk.set_event_delay` (events late and
reordered across channels, never within one channel, as Asterisk's own threads may).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import structlog

from dialerd.ami.codec import Decoder, Message, encode, encode_banner
from dialerd.errors import RemoteProtocolError, UsageError
from dialerd.sim.behaviour import Customers, dialerd_dialplan
from dialerd.sim.dialplan import Interpreter, lab_dialplan
from dialerd.sim.pbx import UNKNOWN, Channel, OriginateRequest, Pbx, parse_callerid
from dialerd.sim.scenario import Scenario, load_scenario

log = structlog.get_logger(__name__)

BEHAVIOURS: Final = ("lab", "dialerd")
_LOCAL_RE: Final = re.compile(r"Local/([^@/]+)@([^/]+)(/[a-z]+)?", re.IGNORECASE)
_MAX_BACKLOG_BYTES: Final = 32 << 20
_UNKNOWN_ACTION: Final = (
    "Invalid/unknown command: {}. Use Action: ListCommands to show available commands."
)


class _Session:
    """One AMI connection: decoding actions, writing responses and (maybe delayed) events."""

    def __init__(
        self,
        sim: SimAsterisk,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session_id: int,
    ) -> None:
        self.sim = sim
        self.reader = reader
        self.writer = writer
        self.id = session_id
        self.authenticated = False
        self.username = ""
        self.events = True
        self.classes: set[str] | None = None
        self.opened = time.time()
        self._pending: list[tuple[float, int, bytes]] = []
        self._last_by_key: dict[str, float] = {}
        self._order = itertools.count()
        self._flush: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None

    # ---- output -------------------------------------------------------------------------

    def send(self, message: Message | Iterable[tuple[str, str]]) -> None:
        """Write a response (or a list item) now, in order with other responses."""
        if self.writer.is_closing():
            return
        self.writer.write(encode(message if isinstance(message, Message) else Message.of(message)))

    def send_event(self, message: Message, key: str | None) -> None:
        """Write an event, honouring the simulator's delay/reorder switch."""
        if not (self.authenticated and self.events) or self.writer.is_closing():
            return
        if self.writer.transport.get_write_buffer_size() > _MAX_BACKLOG_BYTES:
            # Asterisk drops a session it cannot write to (writetimeout); so do we.
            log.warning("sim_session_backlogged", session=self.id)
            self.close(abort=True)
            return
        if self.classes is not None:
            privilege = message.get("Privilege") or ""
            if not self.classes.intersection(privilege.lower().split(",")):
                return
        delay, jitter = self.sim.event_delay
        if delay <= 0 and jitter <= 0 and not self._pending:
            self.writer.write(encode(message))
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + delay + (self.sim.rng.uniform(0, jitter) if jitter > 0 else 0.0)
        if key is not None:
            # Events of one channel never overtake each other, as in Asterisk.
            due = max(due, self._last_by_key.get(key, 0.0))
            self._last_by_key[key] = due
        heapq.heappush(self._pending, (due, next(self._order), encode(message)))
        self._arm()

    def _arm(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
        if self._pending:
            loop = asyncio.get_running_loop()
            self._flush = loop.call_at(self._pending[0][0], self._deliver)

    def _deliver(self) -> None:
        self._flush = None
        now = asyncio.get_running_loop().time()
        while self._pending and self._pending[0][0] <= now:
            _, _, data = heapq.heappop(self._pending)
            if not self.writer.is_closing():
                self.writer.write(data)
        if not self._pending:
            self._last_by_key.clear()
        self._arm()

    def close(self, *, abort: bool = False) -> None:
        """Close the connection (``abort`` resets it without a FIN)."""
        if self._flush is not None:
            self._flush.cancel()
        self._pending.clear()
        transport = self.writer.transport
        if abort:
            transport.abort()
        else:
            self.writer.close()

    # ---- input --------------------------------------------------------------------------

    async def run(self) -> None:
        """Read actions until the peer or the simulator closes the connection."""
        self.writer.write(encode_banner(self.sim.version))
        decoder = Decoder(expect_banner=False)
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                for item in decoder.feed(data):
                    if isinstance(item, Message):
                        await self.sim.handle_action(self, item)
                        if self.writer.is_closing():
                            return
        except (ConnectionError, RemoteProtocolError) as exc:
            log.debug("sim_session_error", session=self.id, error=str(exc))
        finally:
            self.sim.forget(self)
            if not self.writer.is_closing():
                self.writer.close()


class SimAsterisk:
    """An AMI server backed by a simulated PBX.

    ``behaviour`` is ``"lab"`` (the recordings' dialplan) or ``"dialerd"`` (the shipped
    ``extensions_dialerd.conf`` and customers drawn from ``scenario`` with ``seed``;
    ``overrides`` fixes the outcome of given numbers). ``time_scale`` multiplies every
    dialplan duration and Originate timeout, so tests can run a call in milliseconds.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "dialerd",
        secret: str = "dialerd",  # noqa: S107 - the simulator's well-known test login
        behaviour: str = "lab",
        scenario: Scenario | str | Path | None = None,
        seed: int | None = None,
        overrides: Mapping[str, str] | None = None,
        login_fail_delay_s: float = 1.0,
        time_scale: float = 1.0,
        restart_delay_s: float = 0.5,
        version: str = "13.0.0",
    ) -> None:
        if behaviour not in BEHAVIOURS:
            raise UsageError(f"unknown behaviour {behaviour!r}; choose one of {BEHAVIOURS}")
        if time_scale <= 0:
            raise UsageError("time_scale must be positive")
        self.host = host
        self._port = port
        self.username = username
        self._secret = secret
        self.behaviour = behaviour
        if isinstance(scenario, str | Path):
            scenario = load_scenario(scenario)
        self.scenario = scenario
        self.seed = seed
        self.rng = random.Random(seed)
        self.login_fail_delay_s = login_fail_delay_s
        self.time_scale = time_scale
        self.restart_delay_s = restart_delay_s
        self.version = version
        self.customers = Customers(scenario, self.rng, overrides)
        self.answer_pings = True
        self.event_delay: tuple[float, float] = (0.0, 0.0)
        self._server: asyncio.Server | None = None
        self._sessions: set[_Session] = set()
        self._session_ids = itertools.count(0x7F0000001000, 0x10)
        self.booted = time.monotonic()
        self.pbx = self._new_pbx()
        self.originates = 0
        self.events_sent = 0

    def __repr__(self) -> str:
        return (
            f"SimAsterisk(host={self.host!r}, port={self._port}, username={self.username!r}, "
            f"behaviour={self.behaviour!r})"
        )

    def _new_pbx(self) -> Pbx:
        pbx = Pbx(self._broadcast, time_scale=self.time_scale)
        if self.behaviour == "lab":
            pbx.dialplan = lab_dialplan()
        else:
            pbx.dialplan = dialerd_dialplan(pbx, self.customers)
        return pbx

    # ---- lifecycle ----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on (known after :meth:`start`)."""
        return self._port

    async def start(self) -> None:
        """Start listening; with ``port=0`` a free port is chosen."""
        self._server = await asyncio.start_server(self._accept, self.host, self._port)
        sock = self._server.sockets[0]
        self._port = int(sock.getsockname()[1])
        log.info("sim_asterisk_listening", host=self.host, port=self._port)

    async def stop(self) -> None:
        """Close every connection, end every call and stop listening."""
        for session in list(self._sessions):
            session.close(abort=True)
        self._sessions.clear()
        await self._close_server()
        self.pbx.shutdown()
        for task in list(self.pbx.tasks):
            task.cancel()
        await asyncio.gather(*self.pbx.tasks, return_exceptions=True)

    async def _close_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 1.0)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(self, reader, writer, next(self._session_ids))
        self._sessions.add(session)
        await session.run()

    def forget(self, session: _Session) -> None:
        """Drop a session that ended."""
        self._sessions.discard(session)

    # ---- fault switches -----------------------------------------------------------------

    def drop_connections(self) -> None:
        """Reset every AMI connection at once, as a crashed peer or a dead link would."""
        for session in list(self._sessions):
            session.close(abort=True)
        self._sessions.clear()

    def set_answer_pings(self, answer: bool) -> None:
        """``False`` leaves Ping unanswered (a half-open link); ``True`` restores it."""
        self.answer_pings = answer

    def set_event_delay(self, delay_s: float = 0.0, jitter_s: float = 0.0) -> None:
        """Deliver events ``delay_s`` late plus up to ``jitter_s`` random extra per event.

        With jitter, events of different channels may arrive out of order; events of one
        channel keep their order, which is what Asterisk guarantees.
        """
        if delay_s < 0 or jitter_s < 0:
            raise UsageError("event delay and jitter cannot be negative")
        self.event_delay = (delay_s, jitter_s)

    async def restart(self) -> None:
        """``core restart now``: channels end, ``Shutdown`` is sent, sockets close, and the
        server comes back after ``restart_delay_s`` with ``Uptime`` reset and no channels."""
        self.pbx.shutdown()
        self._broadcast(
            Message.of(
                [
                    ("Event", "Shutdown"),
                    ("Privilege", "system,all"),
                    ("Shutdown", "Cleanly"),
                    ("Restart", "True"),
                ]
            ),
            None,
        )
        await asyncio.gather(*self.pbx.tasks, return_exceptions=True)
        for session in list(self._sessions):
            session.close()
        self._sessions.clear()
        await self._close_server()
        await asyncio.sleep(self.restart_delay_s)
        self.booted = time.monotonic()
        self.pbx = self._new_pbx()
        self._server = await asyncio.start_server(self._accept, self.host, self._port)

    # ---- events ---------------------------------------------------------------------------

    def _broadcast(self, message: Message, key: str | None) -> None:
        self.events_sent += 1
        for session in self._sessions:
            session.send_event(message, key)

    # ---- actions --------------------------------------------------------------------------

    async def handle_action(self, session: _Session, action: Message) -> None:
        """Answer one action the way Asterisk does."""
        name = (action.get("Action") or "").lower()
        if name == "login":
            await self._login(session, action)
            return
        if name == "logoff":
            session.send(_response(action, "Goodbye", "Thanks for all the fish."))
            session.close()
            return
        if not session.authenticated:
            session.send(_response(action, "Error", "Permission denied"))
            return
        handler = self._handlers().get(name)
        if handler is None:
            session.send(
                _response(action, "Error", _UNKNOWN_ACTION.format(action.get("Action") or ""))
            )
            self._security_event(session, "RequestBadFormat", action)
            return
        try:
            await handler(session, action)
        except Exception:
            # A simulator bug must not look like a dead link to the client under test.
            log.exception("sim_action_failed", action=name)
            session.send(_response(action, "Error", "Internal error"))

    def _handlers(self) -> dict[str, Callable[[_Session, Message], Awaitable[None]]]:
        return {
            "ping": self._ping,
            "originate": self._originate,
            "redirect": self._redirect,
            "hangup": self._hangup,
            "bridge": self._bridge,
            "coreshowchannels": self._core_show_channels,
            "status": self._status,
            "setvar": self._setvar,
            "getvar": self._getvar,
            "events": self._events,
        }

    async def _login(self, session: _Session, action: Message) -> None:
        user, secret = action.get("Username") or "", action.get("Secret") or ""
        if user != self.username or secret != self._secret:
            await asyncio.sleep(self.login_fail_delay_s)
            session.send(_response(action, "Error", "Authentication failed"))
            return
        session.authenticated = True
        session.username = user
        # ``Events: off`` silences the session; a class list (``system,call,user``) keeps
        # only events of those classes, as Asterisk's Login does.
        events = (action.get("Events") or "on").lower().replace(" ", "")
        session.events = events not in ("off", "no", "0")
        if session.events and events not in ("on", "yes", "1", "all"):
            session.classes = set(events.split(","))
        session.send(_response(action, "Success", "Authentication accepted"))
        uptime = str(int(time.monotonic() - self.booted))
        session.send_event(
            Message.of(
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", uptime),
                    ("LastReload", uptime),
                    ("Status", "Fully Booted"),
                ]
            ),
            None,
        )
        self._security_event(session, "SuccessfulAuth", action, only_self=True)

    def _security_event(
        self, session: _Session, name: str, action: Message, *, only_self: bool = False
    ) -> None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        opened = datetime.fromtimestamp(session.opened, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
        local = session.writer.get_extra_info("sockname") or ("127.0.0.1", 0)
        remote = session.writer.get_extra_info("peername") or ("127.0.0.1", 0)
        headers = [
            ("Event", name),
            ("Privilege", "security,all"),
            ("EventTV", now),
            ("Severity", "Informational" if name == "SuccessfulAuth" else "Error"),
            ("Service", "AMI"),
            ("EventVersion", "1"),
        ]
        if name == "SuccessfulAuth":
            headers += [
                ("AccountID", session.username),
                ("SessionID", hex(session.id)),
                ("LocalAddress", f"IPV4/TCP/{local[0]}/{local[1]}"),
                ("RemoteAddress", f"IPV4/TCP/{remote[0]}/{remote[1]}"),
                ("UsingPassword", "0"),
                ("SessionTV", opened[:-3] + "+0000"),
            ]
        else:
            headers += [
                ("SessionID", hex(session.id)),
                ("LocalAddress", f"IPV4/TCP/{local[0]}/{local[1]}"),
                ("RemoteAddress", f"IPV4/TCP/{remote[0]}/{remote[1]}"),
                ("RequestType", f"Action: {action.get('Action') or ''}"),
                ("SessionTV", opened[:-3] + "+0000"),
                ("AccountID", session.username),
            ]
        msg = Message.of(headers)
        if only_self:
            session.send_event(msg, None)
        else:
            self._broadcast(msg, None)

    async def _ping(self, session: _Session, action: Message) -> None:
        if not self.answer_pings:
            return
        pairs = _id_pairs(action)
        session.send(
            [("Response", "Success"), *pairs, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")]
        )

    async def _events(self, session: _Session, action: Message) -> None:
        mask = (action.get("EventMask") or "on").lower()
        session.events = mask not in ("off", "no", "0")
        session.send(_response(action, "Success", "Events On" if session.events else "Events Off"))

    async def _originate(self, session: _Session, action: Message) -> None:
        channel = action.get("Channel") or ""
        if not channel:
            session.send(_response(action, "Error", "Channel not specified"))
            return
        if action.get("Application"):
            text = "Originate with Application is not simulated; use Context/Exten/Priority"
            session.send(_response(action, "Error", text))
            return
        context = action.get("Context") or "default"
        exten = action.get("Exten") or "s"
        priority_text = action.get("Priority") or "1"
        if not priority_text.isdigit() or int(priority_text) < 1:
            session.send(_response(action, "Error", "Invalid priority"))
            return
        dialplan = self.pbx.dialplan
        if not isinstance(dialplan, Interpreter) or dialplan.steps(context, exten) is None:
            session.send(_response(action, "Error", "Extension does not exist."))
            return
        try:
            timeout_ms = int(action.get("Timeout") or "30000")
        except ValueError:
            session.send(_response(action, "Error", "Invalid timeout"))
            return
        variables: list[tuple[str, str]] = []
        for line in action.get_all("Variable"):
            for item in line.split(","):
                key, sep, value = item.partition("=")
                if sep:
                    variables.append((key.strip(), value))
        cid_num, cid_name = parse_callerid(action.get("CallerID"))
        req = OriginateRequest(
            action_id=action.action_id,
            channel=channel,
            context=context,
            exten=exten,
            priority=int(priority_text),
            timeout_s=timeout_ms / 1000.0,
            cid_num=cid_num,
            cid_name=cid_name,
            variables=tuple(variables),
            channel_id=action.get("ChannelId") or None,
            other_channel_id=action.get("OtherChannelId") or None,
        )
        is_async = (action.get("Async") or "").lower() in ("true", "yes", "1", "on")
        self.originates += 1
        local = _LOCAL_RE.fullmatch(channel)
        if is_async:
            session.send(_response(action, "Success", "Originate successfully queued"))
            if local is None:
                self.pbx.originate_failed_early(req)
            else:
                self.pbx.originate_local(req, local.group(1), local.group(2))
            return
        if local is None:
            session.send(_response(action, "Error", "Originate failed"))
            return
        pair = self.pbx.originate_local(req, local.group(1), local.group(2))
        reason = await pair.done if pair.done is not None else 0
        if reason == 4:
            session.send(_response(action, "Success", "Originate successfully queued"))
        else:
            session.send(_response(action, "Error", "Originate failed"))

    async def _redirect(self, session: _Session, action: Message) -> None:
        name = action.get("Channel") or ""
        for header, text in (
            ("Channel", "Channel not specified"),
            ("Context", "Context not specified"),
            ("Exten", "Exten not specified"),
            ("Priority", "Priority not specified"),
        ):
            if not action.get(header):
                session.send(_response(action, "Error", text))
                return
        priority = action.get("Priority") or ""
        if not priority.isdigit() or int(priority) < 1:
            session.send(_response(action, "Error", "Priority is invalid"))
            return
        ch = self.pbx.find_exact(name)
        if ch is None:
            session.send(_response(action, "Error", f"Channel does not exist: {name}"))
            return
        session.send(_response(action, "Success", "Redirect successful"))
        self.pbx.redirect(ch, action["Context"], action["Exten"], int(priority))

    async def _hangup(self, session: _Session, action: Message) -> None:
        target = action.get("Channel") or ""
        cause_text = action.get("Cause") or "16"
        cause = int(cause_text) if cause_text.isdigit() else 16
        if not target:
            session.send(_response(action, "Error", "No channel specified"))
            return
        if not (target.startswith("/") and target.endswith("/") and len(target) > 1):
            ch = self.pbx.find_exact(target)
            if ch is None:
                session.send(_response(action, "Error", "No such channel"))
                return
            session.send(_response(action, "Success", "Channel Hungup"))
            self.pbx.hangup(ch, cause)
            return
        try:
            pattern = re.compile(target[1:-1])
        except re.error:
            session.send(_response(action, "Error", f"Regex compile failed on: {target}"))
            return
        session.send(_list_ack(action, "Channels hung up will follow"))
        matched = [c for c in self.pbx.live_channels() if pattern.search(c.name)]
        for ch in matched:
            session.send([("Event", "ChannelHungup"), ("Channel", ch.name), *_id_pairs(action)])
        session.send(_list_complete(action, "ChannelsHungupListComplete", len(matched)))
        for ch in matched:
            self.pbx.hangup(ch, cause)

    async def _bridge(self, session: _Session, action: Message) -> None:
        name1, name2 = action.get("Channel1") or "", action.get("Channel2") or ""
        if not name1 or not name2:
            session.send(_response(action, "Error", "Missing channel parameter in request"))
            return
        a = self.pbx.find_prefix(name1)
        if a is None:
            session.send(_response(action, "Error", f"Channel1 does not exist: {name1}"))
            return
        b = self.pbx.find_prefix(name2)
        if b is None:
            session.send(_response(action, "Error", f"Channel2 does not exist: {name2}"))
            return
        session.send(_response(action, "Success", "Channels have been bridged"))
        self.pbx.bridge_pair(a, b)

    async def _core_show_channels(self, session: _Session, action: Message) -> None:
        session.send(_list_ack(action, "Channels will follow"))
        channels = list(self.pbx.live_channels())
        for ch in channels:
            session.send(
                [
                    ("Event", "CoreShowChannel"),
                    *_id_pairs(action),
                    *ch.snapshot(),
                    ("Application", ch.app if ch.in_dialplan else ""),
                    ("ApplicationData", ch.app_data if ch.in_dialplan else ""),
                    ("Duration", _hms(time.monotonic() - ch.created)),
                    ("BridgeId", ch.bridge.uniqueid if ch.bridge else ""),
                ]
            )
        session.send(_list_complete(action, "CoreShowChannelsComplete", len(channels)))

    async def _status(self, session: _Session, action: Message) -> None:
        name = action.get("Channel") or ""
        if name:
            one = self.pbx.find_exact(name)
            if one is None:
                session.send(_response(action, "Error", "No such channel"))
                return
            channels = [one]
        else:
            channels = list(self.pbx.live_channels())
        session.send(_list_ack(action, "Channel status will follow"))
        for ch in channels:
            session.send(_status_item(ch, action))
        done = _list_complete(action, "StatusComplete", len(channels))
        session.send([*done.headers, ("Items", str(len(channels)))])

    async def _setvar(self, session: _Session, action: Message) -> None:
        variable = action.get("Variable") or ""
        if not variable:
            session.send(_response(action, "Error", "No variable specified"))
            return
        name = action.get("Channel") or ""
        if name:
            ch = self.pbx.find_exact(name)
            if ch is None:
                session.send(_response(action, "Error", "No such channel"))
                return
            self.pbx.varset(ch, variable, action.get("Value") or "")
        session.send(_response(action, "Success", "Variable Set"))

    async def _getvar(self, session: _Session, action: Message) -> None:
        variable = action.get("Variable") or ""
        if not variable:
            session.send(_response(action, "Error", "No variable specified"))
            return
        name = action.get("Channel") or ""
        value = ""
        if name:
            ch = self.pbx.find_exact(name)
            if ch is None:
                session.send(_response(action, "Error", "No such channel"))
                return
            value = ch.variables.get(variable, "")
        session.send(
            [("Response", "Success"), *_id_pairs(action), ("Variable", variable), ("Value", value)]
        )


def _id_pairs(action: Message) -> list[tuple[str, str]]:
    action_id = action.action_id
    return [] if action_id is None else [("ActionID", action_id)]


def _response(action: Message, status: str, text: str) -> Message:
    return Message.of([("Response", status), *_id_pairs(action), ("Message", text)])


def _list_ack(action: Message, text: str) -> Message:
    return Message.of(
        [("Response", "Success"), *_id_pairs(action), ("EventList", "start"), ("Message", text)]
    )


def _list_complete(action: Message, event: str, count: int) -> Message:
    return Message.of(
        [
            ("Event", event),
            *_id_pairs(action),
            ("EventList", "Complete"),
            ("ListItems", str(count)),
        ]
    )


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _status_item(ch: Channel, action: Message) -> list[tuple[str, str]]:
    return [
        ("Event", "Status"),
        ("Privilege", "Call"),
        *ch.snapshot(),
        ("Type", "Local" if ch.pair is not None else "Sim"),
        ("DNID", ""),
        ("EffectiveConnectedLineNum", ch.conn_num or UNKNOWN),
        ("EffectiveConnectedLineName", ch.conn_name or UNKNOWN),
        ("TimeToHangup", "0"),
        ("BridgeID", ch.bridge.uniqueid if ch.bridge else ""),
        ("Application", ch.app if ch.in_dialplan else ""),
        ("Data", ch.app_data if ch.in_dialplan else ""),
        ("Nativeformats", "(slin)"),
        ("Readformat", "slin"),
        ("Readtrans", ""),
        ("Writeformat", "slin"),
        ("Writetrans", ""),
        ("Callgroup", "0"),
        ("Pickupgroup", "0"),
        ("Seconds", str(int(time.monotonic() - ch.created))),
        *_id_pairs(action),
    ]
