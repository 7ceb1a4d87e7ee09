"""The client side of one AMI connection, without I/O: actions out, answers and events in.

Theory of operation: :meth:`ClientSession.send` turns an action into bytes and remembers its
``ActionID``; :meth:`ClientSession.receive` takes bytes from the socket and returns, in wire
order, what they completed:

* ``BannerSeen`` once, ``Booted`` for a ``FullyBooted`` event (restart detection needs it);
* ``ActionAnswered`` when an action we sent has its whole answer: the ``Response`` alone, or
  for an event list (``EventList: start``) the response and every item up to the event
  with ``EventList: Complete``. List items stop here; they never reach the event stream.
* core events (``dialerd.core.events``) from the translator, for every other message.

Rules: ``Async: true`` replaces any ``Async`` an Originate carries (a synchronous Originate
blocks the whole AMI session until the call ends). ActionIDs we generate are
``dialerd-<n>``, which never look like a call id. One session is one connection: a new
connection gets a new session, and whatever the old one still expected is forgotten, never
re-sent. The translator outlives sessions (it tracks restarts and calls across them).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from dialerd.ami.codec import Banner, Decoder, Message, encode
from dialerd.ami.translate import Translator
from dialerd.core.events import AmiEvent
from dialerd.errors import UsageError


@dataclass(frozen=True, slots=True)
class BannerSeen:
    """The server announced itself (``Asterisk Call Manager/<version>``)."""

    text: str


@dataclass(frozen=True, slots=True)
class Booted:
    """A ``FullyBooted`` event: Asterisk is up, for ``uptime_s`` seconds."""

    uptime_s: int


@dataclass(frozen=True, slots=True)
class ActionAnswered:
    """An action we sent got its whole answer."""

    action_id: str
    response: Message
    items: tuple[Message, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether Asterisk did it (``Success``, or ``Goodbye`` for Logoff)."""
        return self.response.get("Response") in ("Success", "Goodbye")

    @property
    def message(self) -> str:
        """Asterisk's explanation (``Message``), or the bare response status."""
        return self.response.get("Message") or self.response.get("Response") or ""


SessionOutput = BannerSeen | Booted | ActionAnswered | AmiEvent


@dataclass(slots=True)
class _Awaited:
    response: Message | None = None
    items: list[Message] = field(default_factory=list)


class ClientSession:
    """One AMI connection's protocol state; see the module header."""

    def __init__(self, translator: Translator) -> None:
        self.translator = translator
        self._decoder = Decoder()
        self._awaited: dict[str, _Awaited] = {}
        self._ids = itertools.count(1)

    def send(
        self, action: Message | Mapping[str, str] | Iterable[tuple[str, str]]
    ) -> tuple[str, bytes]:
        """Encode an action to write; returns its ``ActionID`` (given or generated) and bytes."""
        msg = action if isinstance(action, Message) else Message.of(action)
        name = msg.get("Action")
        if not name:
            raise UsageError("an AMI action needs an Action header")
        headers = list(msg.headers)
        if name.lower() == "originate":
            headers = [(k, v) for k, v in headers if k.lower() != "async"]
            headers.append(("Async", "true"))
        action_id = msg.get("ActionID")
        if action_id is None:
            action_id = f"dialerd-{next(self._ids)}"
            headers.insert(1, ("ActionID", action_id))
        if action_id in self._awaited:
            raise UsageError(f"ActionID {action_id!r} is already in flight")
        data = encode(Message(tuple(headers)))
        self._awaited[action_id] = _Awaited()
        return action_id, data

    def forget(self, action_id: str) -> None:
        """Stop expecting an answer (the caller gave up); a late one counts as unsolicited."""
        self._awaited.pop(action_id, None)

    @property
    def awaited(self) -> frozenset[str]:
        """The ActionIDs still waiting for their answer."""
        return frozenset(self._awaited)

    def receive(self, data: bytes, now: float) -> list[SessionOutput]:
        """Feed bytes from the socket; returns what they completed, in wire order.

        ``now`` is monotonic seconds. Raises ``RemoteProtocolError`` on bytes that are not AMI.
        """
        out: list[SessionOutput] = []
        for item in self._decoder.feed(data):
            if isinstance(item, Banner):
                out.append(BannerSeen(item.text))
            else:
                self._route(item, now, out)
        return out

    def _route(self, message: Message, now: float, out: list[SessionOutput]) -> None:
        action_id = message.get("ActionID")
        awaited = self._awaited.get(action_id) if action_id is not None else None
        if message.get("Event") is not None:
            if awaited is not None and awaited.response is not None and action_id is not None:
                if (message.get("EventList") or "").lower() == "complete":
                    del self._awaited[action_id]
                    out.append(ActionAnswered(action_id, awaited.response, tuple(awaited.items)))
                else:
                    awaited.items.append(message)
                return
            if message.get("Event") == "FullyBooted":
                try:
                    out.append(Booted(int(message.get("Uptime") or 0)))
                except ValueError:
                    out.append(Booted(0))
            out.extend(self.translator.feed(message, now))
            return
        if message.get("Response") is None:
            return
        if awaited is not None and action_id is not None:
            awaited.response = message
            is_list = (message.get("EventList") or "").lower() == "start"
            if not is_list or message.get("Response") != "Success":
                del self._awaited[action_id]
                out.append(ActionAnswered(action_id, message))
        out.extend(self.translator.feed(message, now))
