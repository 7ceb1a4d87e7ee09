"""The client session answers each recorded action and streams every other message as events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialerd.ami.codec import BANNER_PREFIX, Decoder, Message
from dialerd.ami.session import ActionAnswered, BannerSeen, Booted, ClientSession
from dialerd.ami.translate import ContractIds, Translator
from dialerd.errors import RemoteProtocolError, UsageError
from tests.ami.test_translate import EXPECTED, LAB_NAMES, LabIds

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ami"

# (ActionID, Response, Message, number of list items) for every action of each recording.
_LOGIN = ("login-1", "Success", "Authentication accepted", 0)
_BYE = ("bye", "Goodbye", "Thanks for all the fish.", 0)
_QUEUED = "Originate successfully queued"
ANSWERS: dict[str, list[tuple[str, str, str, int]]] = {
    "originate-answered": [_LOGIN, ("orig-1", "Success", _QUEUED, 0), _BYE],
    "originate-busy": [_LOGIN, ("orig-1", "Success", _QUEUED, 0), _BYE],
    "originate-noanswer": [_LOGIN, ("orig-1", "Success", _QUEUED, 0), _BYE],
    "originate-congestion": [_LOGIN, ("orig-1", "Success", _QUEUED, 0), _BYE],
    "originate-machine": [_LOGIN, ("orig-1", "Success", _QUEUED, 0), _BYE],
    "actions-misc": [("bad-login", "Error", "Authentication failed", 0)],
    "actions-list": [
        _LOGIN,
        ("p1", "Success", "Success", 0),
        (
            "x1",
            "Error",
            "Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show available "
            "commands.",
            0,
        ),
        ("o-bad", "Success", _QUEUED, 0),
        ("o-sync-missing", "Error", "Channel not specified", 0),
        ("o-agent", "Success", _QUEUED, 0),
        ("csc1", "Success", "Channels will follow", 2),
        ("st1", "Success", "Channel status will follow", 2),
        ("h1", "Success", "Channel Hungup", 0),
        ("h2", "Success", "Channels hung up will follow", 0),
        _BYE,
    ],
    "connect-bridge": [
        _LOGIN,
        ("agent-login", "Success", _QUEUED, 0),
        ("orig-cust", "Success", _QUEUED, 0),
        ("bridge-1", "Success", "Channels have been bridged", 0),
        ("csc", "Success", "Channels will follow", 4),
        ("h-agent", "Success", "Channel Hungup", 0),
        _BYE,
    ],
    "connect-redirect": [
        _LOGIN,
        ("agent-login", "Success", _QUEUED, 0),
        ("orig-cust", "Success", _QUEUED, 0),
        ("redir-1", "Success", "Redirect successful", 0),
        ("csc", "Success", "Channels will follow", 2),
        ("h-agent", "Success", "Channel Hungup", 0),
        _BYE,
    ],
    "asterisk-restart": [
        _LOGIN,
        ("o1", "Success", _QUEUED, 0),
        _LOGIN,
        ("after", "Success", "Channels will follow", 0),
    ],
}
BOOTS: dict[str, list[int]] = {
    "originate-answered": [28],
    "originate-busy": [43],
    "originate-noanswer": [48],
    "originate-congestion": [57],
    "originate-machine": [63],
    "actions-misc": [],
    "actions-list": [77],
    "connect-bridge": [97],
    "connect-redirect": [84],
    "asterisk-restart": [123, 2],
}


def _replay(name: str) -> tuple[list[ActionAnswered], list[int], list[object]]:
    """Send the recorded actions through sessions and feed them the recorded answers.

    A received chunk that opens with the banner is a new connection: a new session on the
    same translator. Returns the answers, the boots and the core events.
    """
    translator = Translator("lab", LabIds(), LAB_NAMES)
    session: ClientSession | None = None
    unsent: list[Message] = []
    answers: list[ActionAnswered] = []
    boots: list[int] = []
    events: list[object] = []
    for line in (FIXTURES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        data = record["data"].encode()
        if record["dir"] == "out":
            unsent.extend(
                m for m in Decoder(expect_banner=False).feed(data) if isinstance(m, Message)
            )
            continue
        if data.startswith(BANNER_PREFIX.encode()):
            if session is not None:
                translator.link_lost()
            session = ClientSession(translator)
        assert session is not None
        for action in unsent:
            action_id, _ = session.send(action)
            assert action_id == action.action_id
        unsent.clear()
        for output in session.receive(data, float(record["t"])):
            match output:
                case ActionAnswered():
                    answers.append(output)
                case Booted(uptime_s=uptime):
                    boots.append(uptime)
                case BannerSeen():
                    pass
                case _:
                    events.append(output)
    assert session is not None
    assert session.awaited == frozenset()
    return answers, boots, events


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_recorded_actions_get_their_recorded_answers(name: str) -> None:
    """Every recorded action is answered once, event lists with all their items."""
    answers, _, _ = _replay(name)
    summary = [(a.action_id, a.response["Response"], a.message, len(a.items)) for a in answers]
    assert summary == ANSWERS[name]


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_the_rest_of_each_recording_becomes_the_translators_events(name: str) -> None:
    """List items stay with their action; everything else reaches the translator in order."""
    _, boots, events = _replay(name)
    assert boots == BOOTS[name]
    assert events == EXPECTED[name]


def test_every_recording_is_covered() -> None:
    """No recording escapes these replays."""
    assert sorted(p.stem for p in FIXTURES.glob("*.jsonl")) == sorted(ANSWERS)


def test_list_items_are_kept_in_order() -> None:
    """CoreShowChannels' items are the recorded channels, in the recorded order."""
    answers, _, _ = _replay("connect-bridge")
    (listing,) = [a for a in answers if a.action_id == "csc"]
    assert [m["Uniqueid"] for m in listing.items] == [
        "agent-1001-peer",
        "agent-1001",
        "cust-1-peer",
        "cust-1",
    ]
    assert listing.ok


def test_send_forces_async_and_names_unnamed_actions() -> None:
    """Originate always carries ``Async: true``; an action without ActionID gets ours."""
    session = ClientSession(Translator("s", ContractIds()))
    action_id, data = session.send(
        [("Action", "Originate"), ("ActionID", "x"), ("Async", "false"), ("Channel", "L/1")]
    )
    assert (action_id, data) == (
        "x",
        b"Action: Originate\r\nActionID: x\r\nChannel: L/1\r\nAsync: true\r\n\r\n",
    )
    assert session.send({"Action": "Ping"}) == (
        "dialerd-1",
        b"Action: Ping\r\nActionID: dialerd-1\r\n\r\n",
    )
    with pytest.raises(UsageError, match="already in flight"):
        session.send({"Action": "Ping", "ActionID": "x"})
    with pytest.raises(UsageError, match="needs an Action"):
        session.send({"ActionID": "y"})


def test_a_forgotten_action_answer_is_unsolicited() -> None:
    """After the caller gave up, a late answer is no ActionAnswered."""
    session = ClientSession(Translator("s", ContractIds()))
    session.receive(b"Asterisk Call Manager/13.0.0\r\n", 0.0)
    action_id, _ = session.send({"Action": "Ping"})
    session.forget(action_id)
    late = session.receive(b"Response: Success\r\nActionID: dialerd-1\r\nPing: Pong\r\n\r\n", 1.0)
    assert late == []


def test_garbage_instead_of_a_banner_is_the_peers_error() -> None:
    """A server that does not speak AMI is refused before anything is routed."""
    session = ClientSession(Translator("s", ContractIds()))
    with pytest.raises(RemoteProtocolError):
        session.receive(b"HTTP/1.1 400 Bad Request\r\n\r\n", 0.0)
