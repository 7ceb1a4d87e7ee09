"""The ``dialerd`` behaviour: the shipped dialplan, scenario-driven customers, agent phones.

Theory of operation: the contexts ``dialerd-customer``, ``dialerd-connect``,
``dialerd-agent`` and ``dialerd-agent-gone`` repeat ``config/asterisk/extensions_dialerd.conf``
priority by priority (``tests/sim/test_dialplan_contract.py`` compares them), with Python in
place of Asterisk's expressions. Times are on the simulated clock, so the hold timer keeps
its meaning under a time scale: it starts when the customer leg enters
``dialerd-customer`` (the answer) and what is left after AMD is computed there.

The public network is the context ``sim-pstn``: dial ``Local/<number>@sim-pstn``. Each call
draws a :class:`Customer` from the scenario (:mod:`dialerd.sim.scenario`, the same file the
pacing simulator reads; its ``[numbers]`` table and explicit overrides fix the outcome of
given numbers, ``congestion`` included): post-dial delay, then busy,
congestion, an invalid number (``Hangup(1)``), ringing without an answer (the Originate
``Timeout`` ends it), or an answer after the drawn ring time. A human waits until connected
to an agent, talks for the drawn time and hangs up; a machine plays its greeting until
the dialplan hangs up on it. AMD verdicts follow the scenario's AMD timing and error rates.

Agent phones are ``Local/<agent id>@sim-agents``: they answer at once and stay until hung up.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from dialerd.ami import contract
from dialerd.errors import UsageError
from dialerd.sim.dialplan import Context, Interpreter, Jump, Step
from dialerd.sim.pbx import Channel, Pbx
from dialerd.sim.scenario import NUMBER_OUTCOMES, Outcome, Scenario, draw_attempt

OUTCOMES: Final = NUMBER_OUTCOMES
_ALIASES: Final = {"human": "live"}
_FROM_SCENARIO: Final = {
    Outcome.LIVE: "live",
    Outcome.MACHINE: "machine",
    Outcome.BUSY: "busy",
    Outcome.INVALID: "invalid",
    Outcome.NO_ANSWER: "no_answer",
}
MAX_HOLD_MS: Final = 2000
MACHINE_GREETING_S: Final = 30.0
_GONE: Final = "dialerd-agent-gone"
_AGENT_PATTERN: Final = "_[0-9A-Za-z_]!"


@dataclass(frozen=True, slots=True)
class Customer:
    """How one called number behaves, drawn once per call."""

    outcome: str
    post_dial_delay_s: float
    ring_s: float
    talk_s: float
    amd_status: str
    amd_cause: str
    amd_delay_s: float


class Customers:
    """Draws customers from a scenario with a seeded generator; overrides win per number."""

    def __init__(
        self,
        scenario: Scenario | None = None,
        rng: random.Random | None = None,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        self.scenario = scenario or Scenario()
        self.rng = rng or random.Random()
        merged = {**dict(self.scenario.numbers), **(overrides or {})}
        self.overrides = {n: _ALIASES.get(o, o) for n, o in merged.items()}
        for number, outcome in self.overrides.items():
            if outcome not in OUTCOMES:
                raise UsageError(f"number {number}: unknown outcome {outcome!r}")

    def draw(self, number: str) -> Customer:
        """The behaviour of one call to ``number``."""
        sc = self.scenario
        d = draw_attempt(self.rng, sc)
        outcome = self.overrides.get(number) or _FROM_SCENARIO[sc.outcomes.nominal(d.u_outcome)]
        ring = {
            "live": d.live_ring_s,
            "machine": d.machine_ring_s,
            "busy": d.busy_s,
            "invalid": d.invalid_s,
            "congestion": d.busy_s,
        }.get(outcome, sc.ring_timeout_s)
        amd = sc.amd
        if outcome == "machine" and d.u_amd >= amd.false_negative_rate:
            status, cause, delay = "MACHINE", "LONGGREETING-2000-1500", d.machine_verdict_s
        elif outcome == "live" and d.u_amd < amd.false_positive_rate:
            status, cause, delay = "MACHINE", "MAXWORDS-4-3", d.machine_verdict_s
        else:
            heard = d.greeting_s + amd.human_verdict_after_greeting_s
            status, cause = "HUMAN", f"HUMAN-{int(amd.human_verdict_after_greeting_s * 1000)}-500"
            delay = heard if outcome == "live" else d.machine_verdict_s
        return Customer(outcome, d.post_dial_delay_s, ring, d.talk_s, status, cause, delay)


def _customer(ch: Channel) -> Customer:
    pair = ch.pair
    draw = pair.draw if pair is not None else None
    if not isinstance(draw, Customer):
        raise UsageError(f"{ch.name} has no simulated customer")
    return draw


def _when(outcome: str, label: str) -> Step:
    return Step("GotoIf", lambda ch: f"{int(_customer(ch).outcome == outcome)}?{label}")


def _pstn(customers: Customers) -> Context:
    def choose(ch: Channel) -> str:
        if ch.pair is not None and ch.pair.draw is None:
            ch.pair.draw = customers.draw(ch.exten)
        return f"SIM_OUTCOME={_customer(ch).outcome}"

    steps = [
        Step("NoOp", lambda ch: f"sim pstn {ch.exten}"),
        Step("Set", choose),
        Step("Wait", lambda ch: f"{_customer(ch).post_dial_delay_s:.3f}"),
        _when("busy", "busy"),
        _when("congestion", "cong"),
        _when("invalid", "invalid"),
        Step("Ringing"),
        _when("no_answer", "noans"),
        Step("Wait", lambda ch: f"{_customer(ch).ring_s:.3f}"),
        Step("Answer"),
        _when("machine", "machine"),
        Step("SimTalk", lambda ch: f"{_customer(ch).talk_s:.3f}"),
        Step("Hangup"),
        Step("Wait", f"{MACHINE_GREETING_S:.0f}", label="machine"),
        Step("Hangup"),
        Step("Busy", "2", label="busy"),
        Step("Congestion", "2", label="cong"),
        Step("Hangup", "1", label="invalid"),
        Step("Wait", "86400", label="noans"),
    ]
    return Context({"_X.": steps})


async def _sim_talk(it: Interpreter, pbx: Pbx, ch: Channel, data: str) -> Jump | None:
    """A human listens until an agent is connected, then talks for ``data`` seconds."""
    if ch.pair is not None:
        await ch.pair.connected.wait()
    await asyncio.sleep(pbx.scaled(float(data)))
    return None


def _var(ch: Channel, name: str) -> str:
    return ch.variables.get(name, "")


def _hold_default(ch: Channel) -> str:
    return f"DIALER_HOLD={_var(ch, contract.VAR_HOLD_MS) or MAX_HOLD_MS}"


def _hold_clamp(ch: Channel) -> str:
    hold = _var(ch, "DIALER_HOLD")
    try:
        clamped = min(float(hold), MAX_HOLD_MS)
    except ValueError:
        clamped = MAX_HOLD_MS
    return f"DIALER_HOLD={clamped:g}"


def _remaining(pbx: Pbx) -> Step:
    def render(ch: Channel) -> str:
        hold_s = float(_var(ch, "DIALER_HOLD") or MAX_HOLD_MS) / 1000
        left = hold_s - (pbx.sim_now() - float(_var(ch, "DIALER_T0") or pbx.sim_now()))
        return f"DIALER_REMAIN={left:.3f}"

    return Step("Set", render)


def _call_event(name: str, *extra: tuple[str, str]) -> Step:
    def render(ch: Channel) -> str:
        parts = [name, f"{contract.H_CALL_ID}: {_var(ch, contract.VAR_CALL_ID)}"]
        parts += [f"{header}: {_var(ch, var)}" for header, var in extra]
        return ",".join(parts)

    return Step("UserEvent", render)


def _customer_context(pbx: Pbx) -> Context:
    safe_harbor = contract.VAR_SAFE_HARBOR
    steps = [
        Step("Set", lambda ch: f"DIALER_T0={pbx.sim_now():.3f}"),
        Step("Set", _hold_default),
        Step("Set", _hold_clamp),
        Step("GotoIf", lambda ch: f"{int(_var(ch, contract.VAR_AMD) != '1')}?ready"),
        Step("AMD"),
        _call_event(
            contract.EV_AMD,
            (contract.H_AMD_STATUS, "AMDSTATUS"),
            (contract.H_AMD_CAUSE, "AMDCAUSE"),
        ),
        Step("GotoIf", lambda ch: f"{int(_var(ch, 'AMDSTATUS') == 'MACHINE')}?machine"),
        Step("GotoIf", lambda ch: f"{int(_var(ch, 'AMDSTATUS') == 'HANGUP')}?gone"),
        Step("UserEvent", _call_event(contract.EV_READY).data, label="ready"),
        _remaining(pbx),
        Step("GotoIf", lambda ch: f"{int(float(_var(ch, 'DIALER_REMAIN')) <= 0)}?abandon"),
        Step("Wait", lambda ch: _var(ch, "DIALER_REMAIN")),
        Step("Set", "DIALER_ABANDONED=1", label="abandon"),
        _call_event(contract.EV_SAFE_HARBOR),
        Step(
            "Playback",
            lambda ch: _var(ch, safe_harbor) or "dialerd/safe-harbor",
            label="message",
        ),
        Step("Hangup"),
        Step("UserEvent", _call_event(contract.EV_MACHINE).data, label="machine"),
        Step("Hangup"),
        Step("Hangup", label="gone"),
    ]
    return Context({"s": steps})


def _connect_context(pbx: Pbx) -> Context:
    def parties(ch: Channel) -> int:
        conf = pbx.conferences.get(contract.CONFERENCE_PREFIX + ch.exten)
        return 0 if conf is None else len(conf.bridge.members)

    customer = contract.CUSTOMER_CONTEXT
    steps = [
        Step(
            "GotoIf",
            lambda ch: f"{int(_var(ch, 'DIALER_ABANDONED') == '1')}?{customer},s,message",
        ),
        Step("GotoIf", lambda ch: f"{int(parties(ch) < 1)}?{customer},s,abandon"),
        Step("Set", lambda ch: f"{contract.VAR_AGENT_ID}={ch.exten}"),
        Step(
            "UserEvent",
            lambda ch: (
                f"{contract.EV_CONNECTED},{contract.H_CALL_ID}: {_var(ch, contract.VAR_CALL_ID)},"
                f"{contract.H_AGENT_ID}: {ch.exten}"
            ),
        ),
        Step(
            "ConfBridge",
            lambda ch: f"{contract.CONFERENCE_PREFIX}{ch.exten},dialerd_bridge,dialerd_customer",
        ),
        Step("Hangup"),
    ]
    return Context({_AGENT_PATTERN: steps, "h": [Step("Hangup")]})


def _agent_contexts() -> tuple[Context, Context]:
    steps = [
        Step("Answer"),
        Step("Set", lambda ch: f"{contract.VAR_AGENT_ID}={ch.exten}"),
        Step("Set", lambda ch: f"CHANNEL(hangup_handler_push)={_GONE},s,1({ch.exten})"),
        Step(
            "UserEvent", lambda ch: f"{contract.EV_AGENT_READY},{contract.H_AGENT_ID}: {ch.exten}"
        ),
        Step(
            "ConfBridge",
            lambda ch: f"{contract.CONFERENCE_PREFIX}{ch.exten},dialerd_bridge,dialerd_agent",
        ),
        Step("Hangup"),
    ]
    gone = [
        Step(
            "UserEvent",
            lambda ch: f"{contract.EV_AGENT_GONE},{contract.H_AGENT_ID}: {_var(ch, 'ARG1')}",
        ),
        Step("Return"),
    ]
    return Context({_AGENT_PATTERN: steps, "h": [Step("Hangup")]}), Context({"s": gone})


SHIPPED_CONTEXTS: Final = (
    contract.CUSTOMER_CONTEXT,
    contract.CONNECT_CONTEXT,
    contract.AGENT_CONTEXT,
    "dialerd-agent-gone",
)
"""The contexts of ``extensions_dialerd.conf`` that this module repeats."""


def dialerd_dialplan(
    pbx: Pbx,
    customers: Customers,
) -> Interpreter:
    """The dialplan of the ``dialerd`` behaviour, bound to one PBX."""
    agent, gone = _agent_contexts()
    interpreter = Interpreter(
        {
            "sim-pstn": _pstn(customers),
            "sim-agents": Context({_AGENT_PATTERN: [Step("Answer"), Step("Wait", "86400")]}),
            contract.CUSTOMER_CONTEXT: _customer_context(pbx),
            contract.CONNECT_CONTEXT: _connect_context(pbx),
            contract.AGENT_CONTEXT: agent,
            "dialerd-agent-gone": gone,
        }
    )
    interpreter.apps["SimTalk"] = _sim_talk
    return interpreter
