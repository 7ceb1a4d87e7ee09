"""The shipped dialplan, the contract and the simulator's copy of the dialplan agree."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from dialerd.ami import contract
from dialerd.sim.behaviour import SHIPPED_CONTEXTS, Customers, dialerd_dialplan
from dialerd.sim.pbx import Pbx

CONFIG = Path(__file__).resolve().parents[2] / "config" / "asterisk"
_LINE = re.compile(
    r"^(?:exten\s*=>\s*(?P<exten>[^,]+),(?P<prio>[^,(]+)|\s*same\s*=>\s*(?P<same>n))"
    r"(?:\((?P<label>[^)]*)\))?,(?P<app>[A-Za-z]+)\((?P<data>.*)\)\s*$"
)


@dataclass(frozen=True)
class Priority:
    """One parsed priority of extensions_dialerd.conf."""

    app: str
    data: str
    label: str | None


def parse_dialplan(text: str) -> dict[str, dict[str, list[Priority]]]:
    """Contexts -> extensions -> priorities, from extensions.conf syntax."""
    contexts: dict[str, dict[str, list[Priority]]] = {}
    context = exten = ""
    for raw in text.splitlines():
        line = re.split(r"(?<!\\);", raw, maxsplit=1)[0].rstrip()
        if not line.strip():
            continue
        header = re.fullmatch(r"\[([^\]]+)\]", line.strip())
        if header:
            context = header.group(1)
            contexts[context] = {}
            continue
        m = _LINE.match(line)
        assert m, f"cannot parse dialplan line {raw!r}"
        if m["exten"]:
            exten = m["exten"].strip()
            assert m["prio"] == "1", f"first priority of {exten} must be 1"
            contexts[context][exten] = []
        contexts[context][exten].append(Priority(m["app"], m["data"], m["label"]))
    return contexts


@pytest.fixture(scope="module")
def shipped() -> dict[str, dict[str, list[Priority]]]:
    return parse_dialplan((CONFIG / "extensions_dialerd.conf").read_text())


def user_events(shipped: dict[str, dict[str, list[Priority]]]) -> dict[str, list[str]]:
    """UserEvent name -> the headers it carries, over the whole dialplan."""
    found: dict[str, list[str]] = {}
    for extens in shipped.values():
        for priorities in extens.values():
            for p in priorities:
                if p.app == "UserEvent":
                    name, *pairs = p.data.split(",")
                    found[name] = [pair.split(":", 1)[0].strip() for pair in pairs]
    return found


def test_contract_contexts_are_defined(shipped: dict[str, dict[str, list[Priority]]]) -> None:
    """The contexts dialerd originates and redirects into exist in the shipped dialplan."""
    for context in (contract.CUSTOMER_CONTEXT, contract.CONNECT_CONTEXT, contract.AGENT_CONTEXT):
        assert context in shipped
    assert "s" in shipped[contract.CUSTOMER_CONTEXT]


def test_user_events_carry_the_contract_headers(
    shipped: dict[str, dict[str, list[Priority]]],
) -> None:
    """Every contract UserEvent is raised, with the headers the contract names."""
    call, agent = contract.H_CALL_ID, contract.H_AGENT_ID
    assert user_events(shipped) == {
        contract.EV_AMD: [call, contract.H_AMD_STATUS, contract.H_AMD_CAUSE],
        contract.EV_READY: [call],
        contract.EV_SAFE_HARBOR: [call],
        contract.EV_MACHINE: [call],
        contract.EV_CONNECTED: [call, agent],
        contract.EV_AGENT_READY: [agent],
        contract.EV_AGENT_GONE: [agent],
    }


def test_channel_variables_are_the_contract_ones(
    shipped: dict[str, dict[str, list[Priority]]],
) -> None:
    """The dialplan reads the variables dialerd sets on Originate, by the contract's names."""
    text = (CONFIG / "extensions_dialerd.conf").read_text()
    for var in (
        contract.VAR_CALL_ID,
        contract.VAR_AMD,
        contract.VAR_HOLD_MS,
        contract.VAR_SAFE_HARBOR,
    ):
        assert "${" + var + "}" in text
    conferences = [
        p.data.split(",")[0]
        for extens in shipped.values()
        for priorities in extens.values()
        for p in priorities
        if p.app == "ConfBridge"
    ]
    assert conferences == [contract.CONFERENCE_PREFIX + "${EXTEN}"] * 2


def test_simulator_repeats_the_shipped_dialplan(
    shipped: dict[str, dict[str, list[Priority]]],
) -> None:
    """The dialerd behaviour has the same extensions, applications and labels, in order."""
    pbx = Pbx(lambda message, key: None)
    interpreter = dialerd_dialplan(pbx, Customers(rng=random.Random(1)))
    for name in SHIPPED_CONTEXTS:
        sim = interpreter.contexts[name].extensions
        assert set(sim) == set(shipped[name]), name
        for exten, priorities in shipped[name].items():
            want = [(p.app, p.label) for p in priorities]
            have = [(s.app, s.label) for s in sim[exten]]
            assert have == want, f"{name},{exten}"


def test_hold_timer_is_measured_from_the_answer(
    shipped: dict[str, dict[str, list[Priority]]],
) -> None:
    """The customer context starts its clock at priority 1 and waits only what is left."""
    steps = shipped[contract.CUSTOMER_CONTEXT]["s"]
    assert steps[0] == Priority("Set", "DIALER_T0=${STRFTIME(,,%s.%3q)}", None)
    remain = next(p for p in steps if p.data.startswith("DIALER_REMAIN="))
    assert "${DIALER_T0}" in remain.data
    assert Priority("Wait", "${DIALER_REMAIN}", None) in steps
