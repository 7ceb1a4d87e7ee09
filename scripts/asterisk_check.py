"""Load dialerd's shipped Asterisk configuration into a private, real Asterisk and drive it.

This is the check the simulator cannot do: does ``config/asterisk/`` load in Asterisk 20/22,
and does a real Asterisk raise the contract's UserEvents? The script builds a throw-away
configuration directory (AMI on a free loopback port, ``autoload = no``, only Local
channels), includes the four shipped files unchanged, adds a lab ``sim-pstn`` (tones that
AMD hears as a person or a machine) and ``sim-agents``, starts ``asterisk -f``, and runs:

1. an agent logs in (``DialerAgentReady``, ``ConfbridgeJoin``);
2. a person answers, AMD on: ``DialerAMD`` HUMAN, ``DialerReady``, a Redirect into
   ``dialerd-connect`` gives ``DialerConnected`` and ``ConfbridgeJoin``;
3. a person answers and nobody connects: ``DialerSafeHarbor`` 2 s after the answer, then
   the dialplan hangs up; a ``DIALER_HOLD_MS`` over 2000 is held only 2 s;
4. a Redirect to an agent who is not logged in ends in safe harbor, not in an empty room;
5. a machine answers, AMD on: ``DialerAMD`` MACHINE, ``DialerMachine``, hangup;
6. a call still ringing is hung up (as the predictive pacer takes calls back): the
   Originate fails, and the dialplan raised nothing for it;
7. the agent hangs up: one ``DialerAgentGone`` (and no second ``DialerAgentReady``), and
   the connected call's hangup raised nothing more (no ``DialerSafeHarbor``);
8. the AMI user received only the events ``manager_dialerd.conf`` lets through.

    python scripts/asterisk_check.py --asterisk /usr/sbin/asterisk \\
        --modules /usr/lib/asterisk/modules --data /usr/share/asterisk

It exits 0 when every check passes. It needs no sound files (the safe-harbor Playback then
logs a warning and goes on to the hangup, which is still checked).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dialerd.ami import contract
from dialerd.ami.codec import Banner, Decoder, Message, encode

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "config" / "asterisk"
SECRET = "check-" + uuid.uuid4().hex
MODULES = (
    "res_timing_timerfd.so",
    "pbx_config.so",
    "app_amd.so",
    "app_userevent.so",
    "app_playtones.so",
    "app_playback.so",
    "app_stack.so",
    "app_confbridge.so",
    "bridge_softmix.so",
    "func_strings.so",
    "func_logic.so",
    "func_channel.so",
    "format_wav.so",
    "format_sln.so",
    "format_pcm.so",
    "codec_ulaw.so",
    "codec_alaw.so",
)
# What manager_dialerd.conf lets through (list items and responses are never filtered).
FILTERED = frozenset(
    {
        "FullyBooted",
        "Shutdown",
        "OriginateResponse",
        "Newchannel",
        "Newstate",
        "DialBegin",
        "DialState",
        "DialEnd",
        "Hangup",
        "UserEvent",
        "BridgeEnter",
        "BridgeLeave",
        "ConfbridgeJoin",
        "ConfbridgeLeave",
    }
)
# The lab's far end: a person says a short "hello" (a tone) and then is silent, which AMD
# judges HUMAN; a machine talks (a long tone) past AMD's greeting limit: MACHINE.
LAB_DIALPLAN = """
[sim-pstn]
exten => _1X.,1,Ringing()
 same => n,Wait(1)
 same => n,Answer()
 same => n,Playtones(440/600,0/30000)
 same => n,Wait(30)
 same => n,Hangup()
exten => _3X.,1,Ringing()
 same => n,Wait(120)
exten => _5X.,1,Ringing()
 same => n,Wait(1)
 same => n,Answer()
 same => n,Playtones(440/30000)
 same => n,Wait(30)
 same => n,Hangup()

[sim-agents]
exten => _X.,1,Answer()
 same => n,Wait(600)
"""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(
    etc: Path,
    var: Path,
    modules: Path,
    data: Path,
    port: int,
    *,
    lab: str = LAB_DIALPLAN,
    extra_modules: Sequence[str] = (),
) -> Path:
    """A private configuration directory; returns the asterisk.conf to start with.

    ``lab`` is the far end's dialplan (``sim-pstn`` and ``sim-agents``); ``extra_modules``
    are loaded besides the ones the shipped files need.
    """
    for name in (
        "extensions_dialerd.conf",
        "confbridge_dialerd.conf",
        "amd_dialerd.conf",
        "manager_dialerd.conf",
    ):
        shutil.copy(SHIPPED / name, etc / name)
    manager = (etc / "manager_dialerd.conf").read_text()
    (etc / "manager_dialerd.conf").write_text(
        manager.replace("change-this-to-a-long-random-secret", SECRET)
    )
    dirs = {d: var / d for d in ("run", "log", "spool", "lib", "db", "keys", "agi")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    (etc / "asterisk.conf").write_text(
        "[directories]\n"
        f"astetcdir => {etc}\nastmoddir => {modules}\nastvarlibdir => {dirs['lib']}\n"
        f"astdbdir => {dirs['db']}\nastkeydir => {dirs['keys']}\nastdatadir => {data}\n"
        f"astagidir => {dirs['agi']}\nastspooldir => {dirs['spool']}\n"
        f"astrundir => {dirs['run']}\nastlogdir => {dirs['log']}\n"
        "[options]\nverbose = 3\n"
    )
    loads = "".join(f"load => {m}\n" for m in (*MODULES, *extra_modules))
    (etc / "modules.conf").write_text(f"[modules]\nautoload = no\n{loads}")
    (etc / "logger.conf").write_text("[general]\n[logfiles]\nconsole => notice,warning,error\n")
    (etc / "manager.conf").write_text(
        "[general]\nenabled = yes\nbindaddr = 127.0.0.1\n"
        f"port = {port}\n#include manager_dialerd.conf\n"
    )
    (etc / "extensions.conf").write_text(
        "[general]\nstatic = yes\nwriteprotect = no\n[globals]\n"
        f"{lab}\n#include extensions_dialerd.conf\n"
    )
    (etc / "confbridge.conf").write_text("#include confbridge_dialerd.conf\n")
    (etc / "amd.conf").write_text("#include amd_dialerd.conf\n")
    (etc / "indications.conf").write_text(
        "[general]\ncountry = us\n[us]\ndescription = United States\n"
        "ringcadence = 2000,4000\nbusy = 480+620/500,0/500\ncongestion = 480+620/250,0/250\n"
        "ring = 440+480/2000,0/4000\ndial = 350+440\n"
    )
    return etc / "asterisk.conf"


class Ami:
    """The few client features the check needs."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.messages: list[Message] = []
        self.changed = asyncio.Event()
        self.chunks: list[dict[str, object]] = []
        self.opened = time.monotonic()
        self.task = asyncio.get_running_loop().create_task(self._read())

    def _log(self, direction: str, data: bytes) -> None:
        t = round(time.monotonic() - self.opened, 3)
        self.chunks.append({"t": t, "dir": direction, "data": data.decode()})

    async def _read(self) -> None:
        decoder = Decoder(expect_banner=True)
        while data := await self.reader.read(65536):
            self._log("in", data)
            for item in decoder.feed(data):
                if not isinstance(item, Banner):
                    self.messages.append(item)
            self.changed.set()

    def send(self, **headers: str) -> None:
        data = encode(list(headers.items()))
        self._log("out", data)
        self.writer.write(data)

    async def wait(self, test: Callable[[Message], bool], within_s: float = 15.0) -> Message:
        async def scan() -> Message:
            seen = 0
            while True:
                for msg in self.messages[seen:]:
                    if test(msg):
                        return msg
                seen = len(self.messages)
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(scan(), within_s)

    async def user_event(self, name: str, **fields: str) -> Message:
        return await self.wait(
            lambda m: m.get("UserEvent") == name and all(m.get(k) == v for k, v in fields.items())
        )


def hangup_of(uniqueid: str) -> Callable[[Message], bool]:
    """A test for the Hangup event of one channel."""
    return lambda m: m.name == "Hangup" and m.get("Uniqueid") == uniqueid


def originate_call(ami: Ami, number: str, call: str, amd: str, hold_ms: str = "2000") -> None:
    ami.send(
        Action="Originate",
        ActionID=call,
        Channel=f"Local/{number}@sim-pstn",
        Context=contract.CUSTOMER_CONTEXT,
        Exten="s",
        Priority="1",
        Timeout="20000",
        Async="true",
        ChannelId=contract.customer_channel_id(call),
        OtherChannelId=contract.peer_channel_id(call),
        Variable=(
            f"{contract.VAR_CALL_ID}={call},{contract.VAR_AMD}={amd},"
            f"{contract.VAR_HOLD_MS}={hold_ms}"
        ),
    )


async def checks(ami: Ami, report: Callable[[str, bool, str], None]) -> None:
    """The scenarios of the module's docstring; each reports what it saw."""
    agent, session = "1001", uuid.uuid4().hex
    ami.send(
        Action="Originate",
        ActionID=session,
        Channel=f"Local/{agent}@sim-agents",
        Context=contract.AGENT_CONTEXT,
        Exten=agent,
        Priority="1",
        Async="true",
        ChannelId=contract.customer_channel_id(session),
        OtherChannelId=contract.peer_channel_id(session),
    )
    await ami.user_event(contract.EV_AGENT_READY, DialerAgentId=agent)
    await ami.wait(
        lambda m: (
            m.name == "ConfbridgeJoin"
            and m.get("Uniqueid") == contract.customer_channel_id(session)
        )
    )
    report("agent logs in", True, "DialerAgentReady, ConfbridgeJoin")

    call = uuid.uuid4().hex
    originate_call(ami, "15550001", call, amd="1")
    verdict = await ami.user_event(contract.EV_AMD, DialerCallId=call)
    await ami.user_event(contract.EV_READY, DialerCallId=call)
    ami.send(
        Action="Redirect",
        ActionID="redirect-" + call,
        Channel=contract.customer_channel_id(call),
        Context=contract.CONNECT_CONTEXT,
        Exten=agent,
        Priority="1",
    )
    connected = await ami.user_event(contract.EV_CONNECTED, DialerCallId=call)
    await ami.wait(
        lambda m: (
            m.name == "ConfbridgeJoin" and m.get("Uniqueid") == contract.customer_channel_id(call)
        )
    )
    report(
        "person connected",
        verdict.get("AMDStatus") == "HUMAN" and connected.get("DialerAgentId") == agent,
        f"AMD {verdict.get('AMDStatus')} {verdict.get('AMDCause')}, DialerConnected",
    )
    ami.send(Action="Hangup", ActionID="h-" + call, Channel=contract.customer_channel_id(call))
    connected_call = call

    call = uuid.uuid4().hex
    originate_call(ami, "15550002", call, amd="0")
    await ami.wait(lambda m: m.name == "OriginateResponse" and m.action_id == call)
    answered = time.monotonic()
    await ami.user_event(contract.EV_READY, DialerCallId=call)
    await ami.user_event(contract.EV_SAFE_HARBOR, DialerCallId=call)
    held = time.monotonic() - answered
    await ami.wait(
        lambda m: m.name == "Hangup" and m.get("Uniqueid") == contract.customer_channel_id(call)
    )
    report(
        "safe harbor",
        1.7 <= held <= 2.4,
        f"DialerSafeHarbor {held:.2f} s after the answer (hold 2000 ms), hangup",
    )

    call = uuid.uuid4().hex
    originate_call(ami, "15550004", call, amd="0", hold_ms="9000")
    await ami.wait(lambda m: m.name == "OriginateResponse" and m.action_id == call)
    answered = time.monotonic()
    await ami.user_event(contract.EV_SAFE_HARBOR, DialerCallId=call)
    held = time.monotonic() - answered
    report("hold clamped", held <= 2.4, f"DIALER_HOLD_MS=9000 held {held:.2f} s")

    call = uuid.uuid4().hex
    originate_call(ami, "15550005", call, amd="0")
    await ami.user_event(contract.EV_READY, DialerCallId=call)
    ami.send(
        Action="Redirect",
        ActionID="redirect-" + call,
        Channel=contract.customer_channel_id(call),
        Context=contract.CONNECT_CONTEXT,
        Exten="2002",
        Priority="1",
    )
    await ami.user_event(contract.EV_SAFE_HARBOR, DialerCallId=call)
    wrongly = [
        m
        for m in ami.messages
        if m.get("UserEvent") == contract.EV_CONNECTED and m.get("DialerCallId") == call
    ]
    report("no agent room", not wrongly, "Redirect to an absent agent: DialerSafeHarbor")

    call = uuid.uuid4().hex
    originate_call(ami, "55550003", call, amd="1")
    verdict = await ami.user_event(contract.EV_AMD, DialerCallId=call)
    machine = await ami.user_event(contract.EV_MACHINE, DialerCallId=call)
    await ami.wait(
        lambda m: m.name == "Hangup" and m.get("Uniqueid") == contract.customer_channel_id(call)
    )
    report(
        "machine",
        verdict.get("AMDStatus") == "MACHINE" and machine is not None,
        f"AMD {verdict.get('AMDStatus')} {verdict.get('AMDCause')}, DialerMachine",
    )

    call = uuid.uuid4().hex
    originate_call(ami, "35550006", call, amd="1")
    await ami.wait(
        lambda m: (
            m.name == "DialState"
            and m.get("DestUniqueid") == contract.customer_channel_id(call)
            and m.get("DialStatus") == "RINGING"
        )
    )
    # As the Dialer takes a call back: the customer's channel, normal clearing.
    ami.send(
        Action="Hangup",
        ActionID="h-" + call,
        Channel=contract.customer_channel_id(call),
        Cause="16",
    )
    failed = await ami.wait(lambda m: m.name == "OriginateResponse" and m.action_id == call)
    await ami.wait(hangup_of(contract.customer_channel_id(call)))
    raised = [m.get("UserEvent") for m in ami.messages if m.get("DialerCallId") == call]
    report(
        "ringing call taken back",
        failed.get("Response") == "Failure" and not raised,
        f"OriginateResponse {failed.get('Response')} Reason {failed.get('Reason')},"
        f" UserEvents: {raised}",
    )

    ami.send(Action="Hangup", ActionID="h-agent", Channel=contract.customer_channel_id(session))
    await ami.user_event(contract.EV_AGENT_GONE, DialerAgentId=agent)
    for leg in (contract.customer_channel_id(session), contract.peer_channel_id(session)):
        await ami.wait(hangup_of(leg))
    counts = {
        name: sum(1 for m in ami.messages if m.get("UserEvent") == name)
        for name in (contract.EV_AGENT_READY, contract.EV_AGENT_GONE)
    }
    report("agent logs out", set(counts.values()) == {1}, f"UserEvents seen: {counts}")
    after = [
        m.get("UserEvent")
        for m in ami.messages
        if m.get("DialerCallId") == connected_call
        and m.get("UserEvent") not in (contract.EV_AMD, contract.EV_READY, contract.EV_CONNECTED)
    ]
    report("connected call ends quietly", not after, f"UserEvents after the connect: {after}")

    names = {m.name for m in ami.messages if m.kind == "event" and m.action_id is None}
    extra = names - FILTERED
    report("event filter", not extra, f"events received: {', '.join(sorted(names))}")


def write_recording(path: Path, chunks: Sequence[dict[str, object]]) -> None:
    """AMI chunks as JSON lines (``t``, ``dir``, ``data``), the format of the recordings in
    ``tests/fixtures/asterisk-dialerd/``. The lab's secret is masked: it is random anyway,
    and a recording shows no real one."""
    lines = [json.dumps(c).replace(SECRET, "dialerd") for c in chunks]
    path.write_text("\n".join(lines) + "\n")


@contextlib.asynccontextmanager
async def private_asterisk(
    args: argparse.Namespace, *, lab: str = LAB_DIALPLAN, extra_modules: Sequence[str] = ()
) -> AsyncIterator[int]:
    """A private Asterisk (``args.asterisk``, ``args.modules``, ``args.data``) with the shipped
    files and ``lab``; yields its AMI port, and prints its warnings and errors once stopped."""
    with tempfile.TemporaryDirectory(prefix="dialerd-asterisk-") as tmp:
        etc, var = Path(tmp) / "etc", Path(tmp) / "var"
        etc.mkdir()
        port = free_port()
        conf = write_config(
            etc,
            var,
            Path(args.modules),
            Path(args.data),
            port,
            lab=lab,
            extra_modules=extra_modules,
        )
        log = (Path(tmp) / "console.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            args.asterisk, "-f", "-n", "-C", str(conf), stdout=log, stderr=log
        )
        try:
            yield port
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            await proc.wait()
            log.close()
            console = (Path(tmp) / "console.log").read_text(errors="replace")
            problems = [
                line
                for line in console.splitlines()
                if ("ERROR" in line or "WARNING" in line) and "safe-harbor" not in line
            ]
            print("\n".join(["--- Asterisk warnings and errors:", *problems[:40]]))


async def run(args: argparse.Namespace) -> int:
    """Start the private Asterisk, run the checks, stop it."""
    results: list[tuple[str, bool, str]] = []

    def report(name: str, ok: bool, detail: str) -> None:
        results.append((name, ok, detail))
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}", flush=True)

    async with private_asterisk(args) as port:
        ami: Ami | None = None
        try:
            ami = await connect(port)
            ami.send(Action="Login", ActionID="login", Username="dialerd", Secret=SECRET)
            login = await ami.wait(lambda m: m.action_id == "login")
            report("AMI login", login.get("Response") == "Success", login.get("Message") or "")
            # AMI opens before the PBX can run channels; FullyBooted says it can.
            await ami.wait(lambda m: m.name == "FullyBooted")
            await checks(ami, report)
            if args.record:
                write_recording(Path(args.record), ami.chunks)
        except TimeoutError:
            seen = ami.messages[-8:] if ami is not None else []
            last = [f"{m.name} {m.get('UserEvent') or m.get('Message') or ''}" for m in seen]
            report("timeout", False, f"an expected event did not come; last: {last}")
    return 0 if results and all(ok for _, ok, _ in results) else 1


async def connect(port: int) -> Ami:
    """Connect once Asterisk listens (it takes a moment to start)."""
    for _ in range(100):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        return Ami(reader, writer)
    raise TimeoutError("Asterisk's AMI port never opened")


def add_asterisk_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that say which Asterisk to start (``private_asterisk`` reads them)."""
    parser.add_argument("--asterisk", default="asterisk", help="the asterisk binary")
    parser.add_argument("--modules", default="/usr/lib/asterisk/modules")
    parser.add_argument(
        "--data", default="/usr/share/asterisk", help="astdatadir (with documentation/)"
    )


def main() -> None:
    """Parse the options and run the check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_asterisk_arguments(parser)
    parser.add_argument("--record", help="write the AMI session to this JSONL file")
    raise SystemExit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
