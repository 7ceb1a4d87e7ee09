"""Several Asterisk servers behind one call-control surface.

Rule: each server has its own AMI connection (:class:`~dialerd.adapters.ami.AmiClient`) and
its own limit of concurrent calls (``max_concurrent_calls``). A new call goes to a server
that is up and has room, the one with the most free places first (ties: configuration
order). When none qualifies the call is refused at once with ``NoServerAvailable`` and a
``CallNotPlaced`` event, so the engine can put the lead back; nothing waits for capacity.

A call holds its place from the Originate until it ends: ``CallFailed``, ``CallNotPlaced``,
the hangup of its customer leg, a restart of its server, or its absence from the server's
``ChannelsSnapshot`` after a reconnect. Follow-up actions (Redirect, Hangup) go to the
server the call was placed on; agent sessions live on one server too.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence

from dialerd.adapters.ami import AmiClient, Dial
from dialerd.ami.translate import ContractIds, DialplanNames
from dialerd.config import AmiServerConfig, Secret
from dialerd.core.events import (
    AmiEvent,
    AsteriskRestarted,
    CallFailed,
    CallNotPlaced,
    CallQueued,
    ChannelHungUp,
    ChannelsSnapshot,
    Leg,
    Party,
)
from dialerd.errors import NoServerAvailable, NotFoundError, UsageError


class AmiPool:
    """The AMI clients of every configured server, one ordered event stream for all."""

    def __init__(
        self,
        servers: Sequence[tuple[AmiServerConfig, Secret]],
        *,
        names: DialplanNames | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not servers:
            raise UsageError("at least one AMI server is needed")
        seen = [cfg.name for cfg, _ in servers]
        if len(set(seen)) != len(seen):
            raise UsageError(f"AMI server names must be unique: {seen}")
        self.ids = ContractIds()
        self._queue: asyncio.Queue[AmiEvent] = asyncio.Queue()
        self.clients: dict[str, AmiClient] = {
            cfg.name: AmiClient(
                cfg, secret, ids=self.ids, names=names, sink=self._queue, rng=rng, clock=clock
            )
            for cfg, secret in servers
        }
        self._active: dict[str, set[str]] = {name: set() for name in self.clients}
        self._where: dict[str, str] = {}
        self._agents: dict[str, str] = {}
        self._consumed = False

    def __repr__(self) -> str:
        return f"AmiPool({list(self.clients)})"

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start every client connecting."""
        for client in self.clients.values():
            client.start()

    async def close(self) -> None:
        """Close every client."""
        for client in self.clients.values():
            await client.close()

    async def wait_any_up(self, timeout_s: float) -> None:
        """Wait until at least one server is up (startup readiness)."""
        waits = [asyncio.create_task(c.wait_up(timeout_s)) for c in self.clients.values()]
        errors: list[BaseException] = []
        try:
            for next_done in asyncio.as_completed(waits):
                try:
                    await next_done
                except Exception as exc:  # every server failed is reported below
                    errors.append(exc)
                else:
                    return
        finally:
            for task in waits:
                task.cancel()
            for task in waits:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        raise NoServerAvailable(
            "no AMI server came up: " + "; ".join(str(e) for e in errors)
        ) from None

    def events(self) -> AsyncIterator[AmiEvent]:
        """Every server's events, each server's in wire order; exactly one consumer."""
        if self._consumed:
            raise UsageError("the AMI pool's events already have a consumer")
        self._consumed = True
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[AmiEvent]:
        while True:
            event = await self._queue.get()
            self._account(event)
            yield event

    # --- capacity ----------------------------------------------------------------------------

    def load(self) -> dict[str, tuple[int, int, bool]]:
        """Per server: calls in progress, the limit, and whether it is up."""
        return {
            name: (len(self._active[name]), c.config.max_concurrent_calls, c.is_up)
            for name, c in self.clients.items()
        }

    def pick(self) -> AmiClient:
        """The server for a new call, or ``NoServerAvailable`` saying why there is none."""
        best: AmiClient | None = None
        best_room = 0
        for name, client in self.clients.items():
            room = client.config.max_concurrent_calls - len(self._active[name])
            if client.is_up and room > best_room:
                best, best_room = client, room
        if best is None:
            detail = ", ".join(
                f"{n} {busy}/{limit}" + ("" if up else " down")
                for n, (busy, limit, up) in self.load().items()
            )
            raise NoServerAvailable(f"no AMI server is up with room for a call ({detail})")
        return best

    def _release(self, call_id: str) -> None:
        server = self._where.pop(call_id, None)
        if server is not None:
            self._active[server].discard(call_id)

    def _account(self, event: AmiEvent) -> None:
        match event:
            case CallQueued(server=server, call_id=call_id):
                self._where[call_id] = server
                self._active[server].add(call_id)
            case CallFailed(call_id=call_id) | CallNotPlaced(call_id=call_id):
                self._release(call_id)
            case ChannelHungUp(party=Party.CALL, leg=Leg.CUSTOMER, party_id=call_id):
                self._release(call_id)
            case AsteriskRestarted(server=server):
                for call_id in list(self._active[server]):
                    self._release(call_id)
                for agent_id in [a for a, s in self._agents.items() if s == server]:
                    del self._agents[agent_id]
            case ChannelsSnapshot(server=server, call_ids=live):
                for call_id in [c for c in self._active[server] if c not in live]:
                    self._release(call_id)
            case _:
                pass

    # --- call control ------------------------------------------------------------------------

    async def originate_call(self, dial: Dial) -> str:
        """Place a call on a server with room; returns that server's name.

        Refusals and failures also reach the event stream as ``CallNotPlaced``.
        """
        try:
            client = self.pick()
        except NoServerAvailable as exc:
            self._queue.put_nowait(CallNotPlaced(None, dial.call_id, str(exc), False))
            raise
        self._where[dial.call_id] = client.name
        self._active[client.name].add(dial.call_id)
        await client.originate_call(dial)
        return client.name

    async def originate_agent(
        self, session_id: str, agent_id: str, channel: str, *, server: str | None = None
    ) -> str:
        """Call an agent's phone into its conference, on ``server`` or the first one up."""
        if server is None:
            up = [c for c in self.clients.values() if c.is_up]
            if not up:
                raise NoServerAvailable("no AMI server is up for an agent session")
            client = up[0]
        else:
            client = self._client(server)
        self._agents[agent_id] = client.name
        await client.originate_agent(session_id, agent_id, channel)
        return client.name

    async def redirect_to_agent(self, call_id: str, agent_id: str) -> None:
        """Connect an answered customer to an agent on the call's server."""
        await self._client_of_call(call_id).redirect_to_agent(call_id, agent_id)

    async def hangup_call(self, call_id: str) -> None:
        """Hang up a call on its server."""
        await self._client_of_call(call_id).hangup(call_id)

    async def hangup_agent(self, session_id: str, agent_id: str) -> None:
        """End an agent's session (its phone leaves the conference)."""
        server = self._agents.get(agent_id)
        if server is None:
            raise NotFoundError(f"agent {agent_id} has no session on any AMI server")
        await self._client(server).hangup(session_id)

    def server_of_agent(self, agent_id: str) -> str | None:
        """The server an agent's session was placed on, if any."""
        return self._agents.get(agent_id)

    def _client(self, server: str) -> AmiClient:
        client = self.clients.get(server)
        if client is None:
            raise NotFoundError(f"no AMI server named {server!r}")
        return client

    def _client_of_call(self, call_id: str) -> AmiClient:
        server = self._where.get(call_id)
        if server is None:
            raise NotFoundError(f"call {call_id} is not in progress on any AMI server")
        return self._client(server)
