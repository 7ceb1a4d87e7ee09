"""The AMI codec frames recorded Asterisk output exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dialerd.ami.codec import Banner, Decoder, Message, encode
from dialerd.errors import RemoteProtocolError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ami"


def _chunks(name: str, direction: str) -> list[bytes]:
    lines = (FIXTURES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x)["data"].encode() for x in lines if json.loads(x)["dir"] == direction]


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.jsonl")))
def test_every_recording_decodes_the_same_chunked_or_whole(name: str) -> None:
    """Decoding a recording chunk by chunk gives the same messages as decoding it whole."""
    chunks = _chunks(name, "in")
    chunked = Decoder()
    by_chunk = [m for c in chunks for m in chunked.feed(c)]
    by_byte = Decoder()
    one_at_a_time = [m for c in chunks for i in range(len(c)) for m in by_byte.feed(c[i : i + 1])]
    assert by_chunk == one_at_a_time
    assert isinstance(by_chunk[0], Banner)
    assert by_chunk[0].version == "13.0.0"
    assert all(isinstance(m, Message) for m in by_chunk[1:])


def test_client_actions_round_trip_through_encode() -> None:
    """What the client sent in a recording re-encodes to the same bytes."""
    for chunk in _chunks("originate-answered", "out"):
        messages = Decoder(expect_banner=False).feed(chunk)
        assert b"".join(encode(m) for m in messages if isinstance(m, Message)) == chunk


def test_repeated_headers_keep_order_and_lookups_ignore_case() -> None:
    """A repeated key keeps every value in order; lookups are case-insensitive."""
    (msg,) = Decoder(expect_banner=False).feed(
        b"Event: X\r\nVariable: A=1\r\nvariable: B=2\r\nAccountCode: \r\n\r\n"
    )
    assert isinstance(msg, Message)
    assert msg.get_all("VARIABLE") == ["A=1", "B=2"]
    assert msg["accountcode"] == ""
    assert msg.kind == "event"


def test_a_server_that_is_not_asterisk_is_refused() -> None:
    """A first line that is not the AMI banner is the peer's protocol error."""
    with pytest.raises(RemoteProtocolError):
        Decoder().feed(b"SSH-2.0-OpenSSH\r\n")


def test_encode_refuses_a_value_that_would_inject_a_header() -> None:
    """A value with a line break would smuggle a header into the action, so it is refused."""
    with pytest.raises(ValueError, match="line break"):
        encode({"Action": "Originate", "Channel": "Local/1@x\r\nAction: Hangup"})
