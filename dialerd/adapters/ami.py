"""The asyncio AMI client: one connection to one Asterisk server, with guard rails.

Guarantees (each has a fault test in ``tests/adapters/test_ami_faults.py``):

* Every awaited action is bounded: no answer within its deadline raises ``ActionTimeout``.
* ``Async: true`` is forced on every Originate, so no action blocks the AMI session.
* Nothing is ever re-sent. There is no outgoing queue: an action is written at once or
  refused at once with ``LinkLost`` (sending while down). When the link dies every action in
  flight fails at once with ``LinkLost``; after the reconnect nothing of it is replayed —
  a dialer must never place a call it no longer wants (a stale Originate breaks pacing and
  compliance). A failed Originate is reported in the event stream as ``CallNotPlaced``.
* Liveness: a ``Ping`` every ``ping_interval_s`` must be answered within ``pong_timeout_s``,
  or the link is declared dead (a half-open TCP connection otherwise looks alive forever).
* Reconnect with jittered exponential backoff (:func:`backoff_delay`).
* After every (re)connect: ``FullyBooted`` ``Uptime`` (and a ``Shutdown`` seen before) tell
  a restart (``AsteriskRestarted``), then ``CoreShowChannels`` resynchronises
  (``ChannelsSnapshot``), then ``LinkUp``.
* Events reach a single consumer, in wire order, as core events (``dialerd.core.events``),
  translated by ``dialerd.ami.translate``.

The secret is sent in the Login action and nowhere else: it is never logged and never part
of a repr.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from dialerd.ami import contract
from dialerd.ami.codec import Message
from dialerd.ami.session import (
    ActionAnswered,
    BannerSeen,
    Booted,
    ClientSession,
    SessionOutput,
)
from dialerd.ami.translate import ContractIds, DialplanNames, Translator
from dialerd.config import AmiServerConfig, Secret
from dialerd.core.events import AmiEvent, CallNotPlaced, LinkDown, LinkUp
from dialerd.errors import (
    ActionRejected,
    ActionTimeout,
    LinkLost,
    LoginRefused,
    RemoteProtocolError,
    UsageError,
)

_log = structlog.get_logger(__name__)
_READ_SIZE = 65536
_T = TypeVar("_T")


def backoff_delay(attempt: int, rng: random.Random, *, low_s: float, high_s: float) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (0-based).

    Exponential ``low_s * 2**attempt`` capped at ``high_s``, with "equal jitter": a random
    point in the upper half, so that many dialers losing one Asterisk do not come back in
    step, yet no attempt follows at once.
    """
    ceiling = min(high_s, low_s * 2.0 ** min(attempt, 32))
    return ceiling / 2 + rng.uniform(0.0, ceiling / 2)


class LinkState(enum.Enum):
    """Where the connection to one server is."""

    DOWN = "down"
    CONNECTING = "connecting"
    UP = "up"
    CLOSED = "closed"


# Rule: UP only through CONNECTING (login, boot check and resync done); CLOSED is final.
_TRANSITIONS: dict[LinkState, frozenset[LinkState]] = {
    LinkState.DOWN: frozenset({LinkState.CONNECTING, LinkState.CLOSED}),
    LinkState.CONNECTING: frozenset({LinkState.UP, LinkState.DOWN, LinkState.CLOSED}),
    LinkState.UP: frozenset({LinkState.DOWN, LinkState.CLOSED}),
    LinkState.CLOSED: frozenset(),
}


ActionResult = ActionAnswered
"""The answer to an action: its response, and the list items if it was an event list."""


@dataclass(frozen=True, slots=True)
class Dial:
    """What to originate for a call; ids follow ``dialerd.ami.contract``."""

    call_id: str
    channel: str
    """The dial string, e.g. ``PJSIP/+15551234567@trunk`` or ``Local/5550001@sim-pstn``."""
    context: str = contract.CUSTOMER_CONTEXT
    exten: str = "s"
    priority: int = 1
    timeout_ms: int = 30000
    caller_id: str | None = None
    variables: tuple[tuple[str, str], ...] = ()


@dataclass(eq=False, slots=True)
class _Pending:
    future: asyncio.Future[ActionResult]
    on_complete: Callable[[ActionResult], None] | None = None


@dataclass(eq=False, slots=True)
class _Connection:
    session: ClientSession
    writer: asyncio.StreamWriter
    banner: asyncio.Future[str]
    booted: asyncio.Future[int]
    dead: asyncio.Future[str]
    pending: dict[str, _Pending] = field(default_factory=dict)


class AmiClient:
    """One AMI connection to one server; see the module header for its guarantees.

    ``ids`` is shared with whoever originates agent sessions; ``sink`` lets several clients
    feed one consumer (``AmiPool``). ``rng`` and ``clock`` are injectable for tests.
    """

    def __init__(
        self,
        config: AmiServerConfig,
        secret: Secret,
        *,
        ids: ContractIds | None = None,
        names: DialplanNames | None = None,
        sink: asyncio.Queue[AmiEvent] | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        login_events: str = "system,call,user",
    ) -> None:
        self.config = config
        self.name = config.name
        self._secret = secret
        self.ids = ids if ids is not None else ContractIds()
        self._translator = Translator(config.name, self.ids, names)
        self._queue: asyncio.Queue[AmiEvent] = sink if sink is not None else asyncio.Queue()
        self._rng = rng if rng is not None else random.Random()
        self._clock = clock
        self._login_events = login_events
        self._state = LinkState.DOWN
        self._conn: _Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._consumed = False
        self._up = asyncio.Event()
        self._expiry: asyncio.TimerHandle | None = None
        self._last_error: Exception | None = None
        self._log = _log.bind(server=config.name)

    def __repr__(self) -> str:
        return (
            f"AmiClient({self.name!r}, {self.config.host}:{self.config.port}, {self._state.value})"
        )

    # --- lifecycle ----------------------------------------------------------------------------

    @property
    def state(self) -> LinkState:
        """Where the link is now."""
        return self._state

    @property
    def is_up(self) -> bool:
        """Logged in and resynchronised: actions may be sent."""
        return self._state is LinkState.UP

    def start(self) -> None:
        """Start connecting (and reconnecting) in the background."""
        if self._task is not None:
            raise UsageError(f"AMI client {self.name} already started")
        self._task = asyncio.create_task(self._run(), name=f"ami-{self.name}")

    async def wait_up(self, timeout_s: float) -> None:
        """Wait until the link is up; a refused login raises ``LoginRefused`` at once."""
        if self._last_error is not None and isinstance(self._last_error, LoginRefused):
            raise self._last_error
        try:
            async with asyncio.timeout(timeout_s):
                while not self.is_up:
                    self._up.clear()
                    await self._up.wait()
                    if isinstance(self._last_error, LoginRefused) and not self.is_up:
                        raise self._last_error
        except TimeoutError:
            detail = f": {self._last_error}" if self._last_error is not None else ""
            raise ActionTimeout(f"{self.name}: not up within {timeout_s} s{detail}") from None

    async def close(self) -> None:
        """Stop: fail what is in flight, close the socket, stop reconnecting."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self._state is not LinkState.CLOSED:
            conn = self._conn
            self._set_state(LinkState.CLOSED)
            if conn is not None:
                self._kill(conn, "client closed")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def events(self) -> AsyncIterator[AmiEvent]:
        """The ordered event stream; there is exactly one consumer."""
        if self._consumed:
            raise UsageError(f"the events of {self.name} already have a consumer")
        self._consumed = True
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[AmiEvent]:
        while True:
            yield await self._queue.get()

    # --- actions -----------------------------------------------------------------------------

    async def send(
        self,
        action: Mapping[str, str] | Iterable[tuple[str, str]],
        *,
        timeout_s: float | None = None,
    ) -> ActionResult:
        """Send one action and wait for its whole answer, within ``timeout_s``.

        Raises ``LinkLost`` at once when the link is not up (nothing is queued), or when it
        dies before the answer; ``ActionTimeout`` at the deadline; ``ActionRejected`` for
        ``Response: Error``.
        """
        conn = self._usable()
        if conn is None:
            raise LinkLost(f"{self.name}: not connected, action not sent")
        return await self._request(conn, action, timeout_s or self.config.action_timeout_s)

    def _usable(self) -> _Connection | None:
        conn = self._conn
        if self._state is not LinkState.UP or conn is None or conn.dead.done():
            return None
        return conn

    async def originate_call(self, dial: Dial, *, timeout_s: float | None = None) -> None:
        """Originate a customer call (``ActionID`` = call id, ``ChannelId`` = ``<id>-a``).

        Returns once Asterisk queued it; the outcome arrives as events. On failure the stream
        also gets ``CallNotPlaced`` (a refusal arrives there from Asterisk's own answer).
        """
        call_id = dial.call_id
        headers = [
            ("Action", "Originate"),
            ("ActionID", call_id),
            ("Channel", dial.channel),
            ("Context", dial.context),
            ("Exten", dial.exten),
            ("Priority", str(dial.priority)),
            ("Timeout", str(dial.timeout_ms)),
            ("Async", "true"),
            ("ChannelId", contract.customer_channel_id(call_id)),
        ]
        if dial.channel.startswith("Local/"):
            headers.append(("OtherChannelId", contract.peer_channel_id(call_id)))
        if dial.caller_id is not None:
            headers.append(("CallerID", dial.caller_id))
        headers.append(("Variable", f"{contract.VAR_CALL_ID}={call_id}"))
        headers.extend(("Variable", f"{k}={v}") for k, v in dial.variables)
        # Written at once if the link is usable now (no await before the write).
        sent = self._usable() is not None
        try:
            await self.send(headers, timeout_s=timeout_s)
        except (LinkLost, ActionTimeout) as exc:
            self._emit([CallNotPlaced(self.name, call_id, str(exc), sent)])
            raise

    async def originate_agent(
        self,
        session_id: str,
        agent_id: str,
        channel: str,
        *,
        timeout_ms: int = 30000,
        timeout_s: float | None = None,
    ) -> None:
        """Call an agent's phone into the agent's conference (``AGENT_CONTEXT``)."""
        self.ids.add_agent_session(session_id, agent_id)
        headers = [
            ("Action", "Originate"),
            ("ActionID", session_id),
            ("Channel", channel),
            ("Context", contract.AGENT_CONTEXT),
            ("Exten", agent_id),
            ("Priority", "1"),
            ("Timeout", str(timeout_ms)),
            ("Async", "true"),
            ("ChannelId", contract.customer_channel_id(session_id)),
            ("Variable", f"{contract.VAR_AGENT_ID}={agent_id}"),
        ]
        if channel.startswith("Local/"):
            headers.append(("OtherChannelId", contract.peer_channel_id(session_id)))
        await self.send(headers, timeout_s=timeout_s)

    async def redirect_to_agent(self, call_id: str, agent_id: str) -> None:
        """Move an answered customer into the agent's conference (``CONNECT_CONTEXT``)."""
        await self.send(
            {
                "Action": "Redirect",
                "Channel": contract.customer_channel_id(call_id),
                "Context": contract.CONNECT_CONTEXT,
                "Exten": agent_id,
                "Priority": "1",
            }
        )

    async def hangup(self, party_id: str, *, cause: int = 16) -> None:
        """Hang up the customer leg of a call or agent session."""
        await self.send(
            {
                "Action": "Hangup",
                "Channel": contract.customer_channel_id(party_id),
                "Cause": str(cause),
            }
        )

    # --- internals: requests -----------------------------------------------------------------

    async def _request(
        self,
        conn: _Connection,
        action: Mapping[str, str] | Iterable[tuple[str, str]],
        timeout_s: float,
        on_complete: Callable[[ActionResult], None] | None = None,
    ) -> ActionResult:
        action_id, data = conn.session.send(action)
        name = Message.of(action).get("Action")
        pending = _Pending(asyncio.get_running_loop().create_future(), on_complete)
        conn.pending[action_id] = pending
        try:
            conn.writer.write(data)
            async with asyncio.timeout(timeout_s):
                await conn.writer.drain()
                return await pending.future
        except TimeoutError:
            raise ActionTimeout(
                f"{self.name}: {name} got no complete answer within {timeout_s} s"
            ) from None
        except (ConnectionError, OSError) as exc:
            raise LinkLost(f"{self.name}: link lost while sending {name}: {exc}") from None
        finally:
            if conn.pending.get(action_id) is pending:
                del conn.pending[action_id]
                conn.session.forget(action_id)

    # --- internals: the connection -----------------------------------------------------------

    def _is_closed(self) -> bool:
        return self._state is LinkState.CLOSED

    def _set_state(self, new: LinkState) -> None:
        if new not in _TRANSITIONS[self._state]:
            raise UsageError(f"AMI link {self.name}: {self._state.value} -> {new.value}")
        self._state = new
        self._up.set()

    def _emit(self, events: list[AmiEvent]) -> None:
        for event in events:
            self._queue.put_nowait(event)

    def _arm_expiry(self) -> None:
        # A failure held for its channels' events must be released on time even if
        # Asterisk then goes quiet or the link drops (the translator outlives sessions).
        if self._expiry is not None or self._is_closed():
            return
        deadline = self._translator.next_deadline()
        if deadline is None:
            return
        delay = max(0.0, deadline - self._clock())
        self._expiry = asyncio.get_running_loop().call_later(delay, self._expire)

    def _expire(self) -> None:
        self._expiry = None
        self._emit(self._translator.expire(self._clock()))
        self._arm_expiry()

    async def _run(self) -> None:
        attempt = 0
        while self._state is not LinkState.CLOSED:
            was_up = False
            try:
                was_up = await self._session()
            except LoginRefused as exc:
                self._last_error = exc
                self._log.error("ami.login_refused", error=str(exc))
            except (OSError, LinkLost, ActionTimeout, RemoteProtocolError, ActionRejected) as exc:
                self._last_error = exc
                self._log.warning("ami.connect_failed", error=str(exc))
            except Exception as exc:
                # A bug here must not stop reconnecting to a production Asterisk forever.
                self._last_error = exc
                self._log.exception("ami.session_crashed")
            if self._is_closed():
                return
            self._up.set()
            attempt = 0 if was_up else attempt + 1
            delay = backoff_delay(
                attempt,
                self._rng,
                low_s=self.config.reconnect_min_s,
                high_s=self.config.reconnect_max_s,
            )
            self._log.info("ami.reconnect_scheduled", delay_s=round(delay, 3), attempt=attempt)
            await asyncio.sleep(delay)

    async def _session(self) -> bool:
        """One connection, from connect to death; true if it got up."""
        cfg = self.config
        self._set_state(LinkState.CONNECTING)
        try:
            async with asyncio.timeout(cfg.connect_timeout_s):
                reader, writer = await asyncio.open_connection(cfg.host, cfg.port)
        except TimeoutError:
            self._set_state(LinkState.DOWN)
            raise LinkLost(
                f"{self.name}: connect timed out after {cfg.connect_timeout_s} s"
            ) from None
        except OSError:
            self._set_state(LinkState.DOWN)
            raise
        loop = asyncio.get_running_loop()
        conn = _Connection(
            ClientSession(self._translator),
            writer,
            loop.create_future(),
            loop.create_future(),
            loop.create_future(),
        )
        self._conn = conn
        reader_task = asyncio.create_task(self._read(reader, conn), name=f"ami-{self.name}-read")
        pinger: asyncio.Task[None] | None = None
        was_up = False
        try:
            async with asyncio.timeout(cfg.connect_timeout_s):
                await _first(conn.banner, conn.dead)
            try:
                await self._request(
                    conn,
                    [
                        ("Action", "Login"),
                        ("Username", cfg.username),
                        ("Secret", self._secret.reveal()),
                        ("Events", self._login_events),
                    ],
                    cfg.action_timeout_s,
                )
            except ActionRejected as exc:
                raise LoginRefused(
                    f"{self.name}: login as {cfg.username!r} refused: {exc}"
                ) from None
            async with asyncio.timeout(cfg.action_timeout_s):
                uptime = await _first(conn.booted, conn.dead)
            self._last_error = None
            await self._request(
                conn,
                {"Action": "CoreShowChannels"},
                cfg.action_timeout_s,
                on_complete=lambda result: self._resynced(conn, result, uptime),
            )
            was_up = True
            self._log.info("ami.link_up", uptime_s=uptime)
            pinger = asyncio.create_task(self._ping(conn), name=f"ami-{self.name}-ping")
            reason = await asyncio.shield(conn.dead)
        except TimeoutError:
            reason = "no banner or FullyBooted in time"
            self._kill(conn, reason)
            raise LinkLost(f"{self.name}: {reason}") from None
        finally:
            if pinger is not None:
                pinger.cancel()
            self._kill(conn, "session ended")
            reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader_task
            writer.close()
            if self._state not in (LinkState.CLOSED, LinkState.DOWN):
                self._set_state(LinkState.DOWN)
        if was_up and not self._is_closed():
            self._log.warning("ami.link_down", reason=reason)
        return was_up

    def _resynced(self, conn: _Connection, result: ActionResult, uptime: int) -> None:
        # Runs in the reader, at the position of ``CoreShowChannelsComplete`` in the stream,
        # so the snapshot and LinkUp sit exactly where they belong among the events.
        if conn.dead.done() or self._state is not LinkState.CONNECTING:
            return
        self._emit([self._translator.snapshot(result.items), LinkUp(self.name, uptime)])
        self._set_state(LinkState.UP)

    async def _ping(self, conn: _Connection) -> None:
        cfg = self.config
        while not conn.dead.done():
            await asyncio.sleep(cfg.ping_interval_s)
            sent_at = self._clock()
            try:
                await self._request(conn, {"Action": "Ping"}, cfg.pong_timeout_s)
            except ActionTimeout:
                reason = f"no Pong within {cfg.pong_timeout_s} s"
                self._log.warning(
                    "ami.half_open", ping_sent_at=sent_at, declared_at=self._clock(), reason=reason
                )
                self._kill(conn, reason)
                return
            except (LinkLost, ActionRejected):
                return

    def _kill(self, conn: _Connection, reason: str) -> None:
        """Declare ``conn`` dead: fail everything in flight with ``LinkLost``, close it."""
        if conn.dead.done():
            return
        conn.dead.set_result(reason)
        error = LinkLost(f"{self.name}: link lost ({reason}); not re-sent")
        for future in (conn.banner, conn.booted):
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: only the session awaits these
        pending = list(conn.pending.values())
        conn.pending.clear()
        for item in pending:
            if not item.future.done():
                item.future.set_exception(error)
        conn.writer.transport.abort()
        was_up = self._state is LinkState.UP
        if self._state in (LinkState.UP, LinkState.CONNECTING):
            self._set_state(LinkState.DOWN)
        self._translator.link_lost()
        if was_up:
            self._emit([LinkDown(self.name, reason)])

    async def _read(self, reader: asyncio.StreamReader, conn: _Connection) -> None:
        reason = "connection closed by Asterisk"
        try:
            while not conn.dead.done():
                data = await reader.read(_READ_SIZE)
                if not data:
                    break
                self._apply(conn, conn.session.receive(data, self._clock()))
                self._arm_expiry()
        except (ConnectionError, OSError) as exc:
            reason = f"read failed: {exc}"
        except RemoteProtocolError as exc:
            reason = f"protocol error: {exc}"
        self._kill(conn, reason)

    def _apply(self, conn: _Connection, outputs: list[SessionOutput]) -> None:
        """Act on what the bytes completed, in their order (events stay in wire order)."""
        for output in outputs:
            match output:
                case BannerSeen(text=text):
                    if not conn.banner.done():
                        conn.banner.set_result(text)
                case Booted(uptime_s=uptime):
                    if not conn.booted.done():
                        conn.booted.set_result(uptime)
                case ActionAnswered(action_id=action_id):
                    pending = conn.pending.pop(action_id, None)
                    if pending is None or pending.future.done():
                        continue
                    if not output.ok:
                        pending.future.set_exception(ActionRejected(output.message))
                        continue
                    if pending.on_complete is not None:
                        pending.on_complete(output)
                    pending.future.set_result(output)
                case _:
                    self._queue.put_nowait(output)


async def _first(wanted: asyncio.Future[_T], dead: asyncio.Future[str]) -> _T:
    """Wait for ``wanted``; if the connection dies first, its error (set on ``wanted``) wins."""
    both: list[asyncio.Future[Any]] = [wanted, dead]
    await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
    if not wanted.done():
        raise LinkLost(f"link lost ({dead.result()})")
    return wanted.result()
