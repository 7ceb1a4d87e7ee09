"""Dialplans the simulated Asterisk runs: a small interpreter and the two behaviours.

Theory of operation: a context maps extension patterns to a list of :class:`Step` s, one a
priority, exactly as ``extensions.conf`` lists them (``same => n,App(data)``). The
interpreter raises ``Newexten`` for each step and runs the application against the
:class:`~dialerd.sim.pbx.Pbx`. Application data is computed by a small Python function in
place of Asterisk's ``${...}``/``$[...]`` substitution.

Two behaviours:

* ``lab`` mirrors ``tests/fixtures/ami/lab-extensions.conf``, the dialplan the AMI
  recordings were made with (the number's last digit picks the outcome), so that the
  simulator can be checked against the recordings.
* ``dialerd`` mirrors ``config/asterisk/extensions_dialerd.conf`` priority by priority (a
  test compares the two), plus a ``sim-pstn`` network whose customers are drawn from a
  scenario and ``sim-agents`` phones that answer at once.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from dialerd.sim.pbx import Channel, Dialplan, HangupHandler, Pbx

DataFn = Callable[[Channel], str]


@dataclass(frozen=True, slots=True)
class Step:
    """One priority: an application, its data, and an optional label."""

    app: str
    data: str | DataFn = ""
    label: str | None = None

    def render(self, ch: Channel) -> str:
        """The application data after substitution."""
        return self.data(ch) if callable(self.data) else self.data


@dataclass(frozen=True, slots=True)
class Jump:
    """Continue at another location (a GotoIf/Goto taken)."""

    context: str
    exten: str
    label: str | int


class Stop(Exception):  # noqa: N818 - control flow, like StopIteration
    """The channel's dialplan ended (it hung up or was handed to something else)."""


AppFn = Callable[["Interpreter", Pbx, Channel, str], Awaitable[Jump | None]]


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Translate an Asterisk extension pattern (``_X.``, ``_[0-9a-z]!``) to a regex."""
    out: list[str] = []
    i = 1
    while i < len(pattern):
        c = pattern[i]
        if c == "X":
            out.append("[0-9]")
        elif c == "Z":
            out.append("[1-9]")
        elif c == "N":
            out.append("[2-9]")
        elif c == ".":
            out.append(".+")
        elif c == "!":
            out.append(".*")
        elif c == "[":
            end = pattern.index("]", i)
            out.append("[" + pattern[i + 1 : end] + "]")
            i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out))


@dataclass
class Context:
    """A dialplan context: extension (or pattern) -> steps."""

    extensions: dict[str, list[Step]] = field(default_factory=dict)

    def find(self, exten: str) -> list[Step] | None:
        """The steps for an extension: an exact match first, then the first pattern."""
        if exten in self.extensions:
            return self.extensions[exten]
        for key, steps in self.extensions.items():
            if key.startswith("_") and _pattern_regex(key).fullmatch(exten):
                return steps
        return None


class Interpreter(Dialplan):
    """Runs :class:`Context` s against a :class:`Pbx`."""

    def __init__(
        self,
        contexts: Mapping[str, Context],
        *,
        agent_settle_s: float = 0.02,
        playback_s: float = 4.0,
    ) -> None:
        self.contexts = dict(contexts)
        self.agent_settle_s = agent_settle_s
        self.playback_s = playback_s
        self.apps: dict[str, AppFn] = dict(_APPS)

    def has_context(self, context: str) -> bool:
        """Whether a context exists."""
        return context in self.contexts

    def steps(self, context: str, exten: str) -> list[Step] | None:
        """The steps of ``exten@context``, or ``None``."""
        ctx = self.contexts.get(context)
        return None if ctx is None else ctx.find(exten)

    def answer_settle_s(self, ch: Channel, default: float) -> float:
        """Agent phones get media from their conference at once; customers wait longer."""
        return self.agent_settle_s if ch.context == "sim-agents" else default

    async def execute(self, pbx: Pbx, ch: Channel, context: str, exten: str, priority: int) -> None:
        """Run a channel from a location until it hangs up, falls off the end or is moved."""
        label: str | int = priority
        try:
            while True:
                steps = self.steps(context, exten)
                if steps is None:
                    pbx.hangup_app(ch, 0)
                    return
                index = _index_of(steps, label)
                while index < len(steps):
                    step = steps[index]
                    ch.context, ch.exten, ch.priority = context, exten, index + 1
                    data = step.render(ch)
                    ch.app, ch.app_data = step.app, data
                    pbx.chan_event(
                        "Newexten",
                        ch,
                        ("Extension", exten),
                        ("Application", step.app),
                        ("AppData", data),
                        priv="dialplan,all",
                    )
                    jump = await self.apps[step.app](self, pbx, ch, data)
                    if jump is not None:
                        context, exten, label = jump.context, jump.exten, jump.label
                        break
                    index += 1
                else:
                    # Falling off the end of an extension hangs the channel up.
                    pbx.hangup_app(ch, 16)
                    return
        except Stop:
            return

    def run_handler(self, pbx: Pbx, ch: Channel, handler: HangupHandler) -> None:
        """Run a hangup handler (a Gosub): the channel's location is restored after it."""
        context, exten, priority, arg = handler
        saved = ch.context, ch.exten, ch.priority
        ch.variables["ARG1"] = arg
        self._run_at_once(pbx, ch, context, exten, priority)
        ch.context, ch.exten, ch.priority = saved

    def run_h(self, pbx: Pbx, ch: Channel) -> None:
        """Run the ``h`` extension of the channel's context, if it has one, at hangup."""
        ctx = self.contexts.get(ch.context)
        if ctx is not None and "h" in ctx.extensions:
            self._run_at_once(pbx, ch, ch.context, "h", 1)

    def _run_at_once(self, pbx: Pbx, ch: Channel, context: str, exten: str, priority: int) -> None:
        # Only applications that finish at once run here (a hung-up channel cannot wait).
        steps = self.steps(context, exten) or []
        for index in range(priority - 1, len(steps)):
            step = steps[index]
            ch.context, ch.exten, ch.priority = context, exten, index + 1
            data = step.render(ch)
            pbx.chan_event(
                "Newexten",
                ch,
                ("Extension", exten),
                ("Application", step.app),
                ("AppData", data),
                priv="dialplan,all",
            )
            if step.app == "UserEvent":
                _user_event(pbx, ch, data)
            elif step.app in ("Return", "Hangup"):
                return


def _index_of(steps: Sequence[Step], label: str | int) -> int:
    if isinstance(label, int):
        return label - 1
    if label.isdigit():
        return int(label) - 1
    for i, step in enumerate(steps):
        if step.label == label:
            return i
    raise KeyError(f"no priority labelled {label!r}")


def _user_event(pbx: Pbx, ch: Channel, data: str) -> None:
    name, _, body = data.partition(",")
    extra: list[tuple[str, str]] = [("UserEvent", name)]
    for part in body.split(",") if body else []:
        key, _, value = part.partition(":")
        extra.append((key.strip(), value.strip()))
    pbx.chan_event("UserEvent", ch, *extra, priv="user,all")


# ---- applications ----------------------------------------------------------------------


async def _noop(it: Interpreter, pbx: Pbx, ch: Channel, data: str) -> Jump | None:
    return None


async def _set(it: Interpreter, pbx: Pbx, ch: Channel, data: str) -> Jump | None:
    name, _, value = data.partition("=")
    if name == "CHANNEL(hangup_handler_push)":
        m = re.fullmatch(r"([^,]+),([^,]+),(\d+)(?:\((.*)\))?", value)
        if m:
            ch.hangup_handlers.append((m[1], m[2], int(m[3]), m[4] or ""))
        return None
    pbx.varset(ch, name, value)
    return None


async def _goto_if(it: Interpreter, pbx: Pbx, ch: Channel, data: str) -> Jump | None:
    cond, _, targets = data.partition("?")
    when_true, _, when_false = targets.partition(":")
    target = when_true if cond.strip() not in ("", "0") else when_false
    if not target:
        return None
    return _goto_target(ch, target)


async def _goto(it: Interpreter, pbx: Pbx, ch: Channel, data: str) -> Jump | None:
    return _goto_target(ch, data)


def _goto_target(ch: Channel, target: str) -> Jump:
    parts = target.split(",")
    if len(parts) == 3:
        return Jump(parts[0], parts[1], parts[2])
    if len(parts) == 2:
        return Jump(ch.context, parts[0], parts[1])
    return Jump(ch.context, ch.exten, parts[0])


async def _ringing(it: Interpreter, pbx: Pbx, ch: Channel, data: str) -> Jump | None:
    pbx.ringing(ch)
    return None


async def _wait(it: Interpreter, pbx: Pbx, ch: Channel, data: str) -> Jump | None:
    await asyncio.sleep(pbx.scaled(float(data or 0)))
    return None


async def _answer(it: Interpreter, pbx: Pbx, ch: Channel, data: str) -> Jump | None:
    await pbx.answer(ch)
    return None


async def _hangup(it: Interpreter, pbx: Pbx, ch: Channel, data: str) -> Jump | None:
    pbx.hangup_app(ch, int(data) if data.strip().isdigit() else 16)
    raise Stop


async def _busy(it: Interpreter, pbx: Pbx, ch: Channel, data: str) -> Jump | None:
    pbx.busy_or_congestion(ch, busy=True)
    raise Stop


async def _congestion(it: Interpreter, pbx: Pbx, ch: Channel, data: str) -> Jump | None:
    pbx.busy_or_congestion(ch, busy=False)
    raise Stop


async def _userevent(it: Interpreter, pbx: Pbx, ch: Channel, data: str) -> Jump | None:
    _user_event(pbx, ch, data)
    return None


async def _confbridge(it: Interpreter, pbx: Pbx, ch: Channel, data: str) -> Jump | None:
    args = [*data.split(","), "", ""]
    ch.kicked = asyncio.get_running_loop().create_future()
    pbx.confbridge_join(ch, args[0], args[2])
    result = await ch.kicked
    pbx.leave_bridge(ch, result=result)
    return None


async def _playback(it: Interpreter, pbx: Pbx, ch: Channel, data: str) -> Jump | None:
    await asyncio.sleep(pbx.scaled(it.playback_s))
    pbx.varset(ch, "PLAYBACKSTATUS", "SUCCESS")
    return None


async def _amd(it: Interpreter, pbx: Pbx, ch: Channel, data: str) -> Jump | None:
    pair = ch.pair
    draw = pair.draw if pair is not None else None
    status, cause, delay = "HUMAN", "HUMAN-500-800", 1.0
    if draw is not None:
        status, cause, delay = draw.amd_status, draw.amd_cause, draw.amd_delay_s
    await asyncio.sleep(pbx.scaled(delay))
    pbx.varset(ch, "AMDSTATUS", status)
    pbx.varset(ch, "AMDCAUSE", cause)
    return None


async def _return(it: Interpreter, pbx: Pbx, ch: Channel, data: str) -> Jump | None:
    raise Stop


_APPS: Final[dict[str, AppFn]] = {
    "NoOp": _noop,
    "Set": _set,
    "GotoIf": _goto_if,
    "Goto": _goto,
    "Ringing": _ringing,
    "Wait": _wait,
    "Answer": _answer,
    "Hangup": _hangup,
    "Busy": _busy,
    "Congestion": _congestion,
    "UserEvent": _userevent,
    "ConfBridge": _confbridge,
    "Playback": _playback,
    "AMD": _amd,
    "Return": _return,
}


# ---- the lab dialplan (tests/fixtures/ami/lab-extensions.conf) ---------------------------


def _last_digit_is(digit: str, label: str) -> DataFn:
    def render(ch: Channel) -> str:
        return f"{1 if ch.variables.get('OUT') == digit else 0}?{label}"

    return render


def lab_dialplan() -> Interpreter:
    """The dialplan the AMI recordings were made with."""
    pstn = [
        Step("NoOp", lambda ch: f"sim pstn {ch.exten}"),
        Step("Set", lambda ch: f"OUT={ch.exten[-1:]}"),
        Step("GotoIf", _last_digit_is("5", "busy")),
        Step("GotoIf", _last_digit_is("6", "noans")),
        Step("GotoIf", _last_digit_is("7", "cong")),
        Step("GotoIf", _last_digit_is("8", "machine")),
        Step("Ringing"),
        Step("Wait", "1"),
        Step("Answer"),
        Step("Wait", "4"),
        Step("Hangup"),
        Step("Busy", "2", label="busy"),
        Step("Ringing", label="noans"),
        Step("Wait", "60"),
        Step("Congestion", "2", label="cong"),
        Step("Answer", label="machine"),
        Step("Wait", "8"),
        Step("Hangup"),
    ]
    return Interpreter(
        {
            "sim-pstn": Context({"_X.": pstn}),
            "sim-agents": Context({"_X.": [Step("Answer"), Step("Wait", "600")]}),
            "lab-answered": Context(
                {
                    "s": [
                        Step("UserEvent", lambda ch: f"LabAnswered,Channel: {ch.name}"),
                        Step("Wait", "30"),
                        Step("Hangup"),
                    ]
                }
            ),
            "lab-agent": Context(
                {"_X.": [Step("Answer"), Step("ConfBridge", lambda ch: f"agent{ch.exten}")]}
            ),
        }
    )


__all__ = ["Context", "Interpreter", "Jump", "Step", "Stop", "lab_dialplan"]
