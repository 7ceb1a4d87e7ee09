"""``dialerd sim-asterisk`` parses its options into a simulator configuration."""

from __future__ import annotations

import argparse

import pytest

from dialerd.errors import UsageError
from dialerd.sim import cli


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="dialerd")
    cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_defaults_listen_on_loopback_with_dialerd_behaviour() -> None:
    """Without options the simulator listens on 127.0.0.1:5038 and plays dialerd's dialplan."""
    args = parse(["sim-asterisk"])
    assert (args.host, args.port, args.behaviour, args.run) == (
        "127.0.0.1",
        5038,
        "dialerd",
        cli.run,
    )


def test_number_overrides_are_parsed() -> None:
    """--number NUMBER=OUTCOME fixes outcomes per number."""
    args = parse(["sim-asterisk", "--number", "5551=busy", "--number", "5552=machine"])
    assert cli._overrides(args.number) == {"5551": "busy", "5552": "machine"}


def test_unknown_outcome_is_a_usage_error() -> None:
    """An outcome the simulator does not know is refused with the option named."""
    with pytest.raises(UsageError, match="--number '5551=maybe'"):
        cli._overrides(["5551=maybe"])
