"""``dialerd ami-check`` tells an operator which Asterisk servers answer, and why not."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from dialerd.adapters.ami_cli import ServerCheck, check_all, format_checks
from dialerd.config import parse_config
from dialerd.errors import UsageError
from dialerd.sim.asterisk import SimAsterisk

SECRET = "check-secret"


@pytest.fixture
async def sim() -> AsyncIterator[SimAsterisk]:
    server = SimAsterisk(username="dialerd", secret=SECRET, login_fail_delay_s=0.01)
    await server.start()
    yield server
    await server.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_each_server_is_reported_up_or_down_with_the_reason(sim: SimAsterisk) -> None:
    """A good server shows its channels; a wrong secret and a closed port say what failed."""
    closed = _free_port()
    config = parse_config(
        f"""
        [[ami.servers]]
        name = "good"
        port = {sim.port}
        secret = {{ value = "{SECRET}" }}

        [[ami.servers]]
        name = "wrong"
        port = {sim.port}
        secret = {{ value = "not-the-secret" }}

        [[ami.servers]]
        name = "closed"
        port = {closed}
        secret = {{ value = "{SECRET}" }}
        """
    )
    good, wrong, gone = await check_all(config, 2.0)
    assert good == ServerCheck("good", f"127.0.0.1:{sim.port}", True, 0, 0, 0, 0)
    assert (wrong.up, gone.up) == (False, False)
    lines = format_checks([good, wrong, gone])
    assert lines[0] == (
        f"good (127.0.0.1:{sim.port}): up 0 s, 0 channel(s), 0 dialerd call(s), 0 agent session(s)"
    )
    assert lines[1] == (
        f"wrong (127.0.0.1:{sim.port}): DOWN: wrong: login as 'dialerd' refused: "
        "Authentication failed"
    )
    assert lines[2].startswith(f"closed (127.0.0.1:{closed}): DOWN: closed: not up within 2.0 s")
    assert "not-the-secret" not in "\n".join(lines)


async def test_a_configuration_without_servers_is_refused() -> None:
    """Nothing to check is the caller's mistake, said plainly."""
    with pytest.raises(UsageError, match=r"no \[\[ami.servers\]\]"):
        await check_all(parse_config(""), 1.0)
