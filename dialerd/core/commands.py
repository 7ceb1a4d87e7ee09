"""What the engine asks the outside world to do, as frozen dataclasses.

The ``Dialer`` returns these from every call; the service carries them out in order,
awaiting each, so that a record written by ``RecordAttempt`` is durable before the
``Originate`` that follows it is sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from dialerd.core.compliance import Outcome, Refusal


@dataclass(frozen=True, slots=True)
class ClaimContacts:
    """Claim up to ``count`` dialable contacts of a campaign (for preview: of ``owner``)."""

    campaign_id: int
    count: int
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class RecordAttempt:
    """Write the attempt (call row, attempts + 1) before its Originate is sent."""

    call_id: str
    campaign_id: int
    contact_id: int
    number: str
    attempt: int
    agent_id: str | None
    wall_at: dt.datetime


@dataclass(frozen=True, slots=True)
class Originate:
    """Dial a customer into the shipped customer context."""

    call_id: str
    campaign_id: int
    number: str
    route: str
    caller_id: str
    present_caller_id: bool
    timeout_ms: int
    amd: bool
    hold_ms: int
    servers: tuple[str, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Redirect:
    """Move an answered customer into an agent's conference."""

    call_id: str
    agent_id: str
    server: str


@dataclass(frozen=True, slots=True)
class HangupCall:
    """Hang up a customer's call."""

    call_id: str
    server: str


@dataclass(frozen=True, slots=True)
class CallAgentPhone:
    """Call an agent's phone into the agent's own conference (agent log-in)."""

    agent_id: str
    endpoint: str
    servers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HangupAgentPhone:
    """End an agent's session (log-out)."""

    agent_id: str
    server: str


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """Write how an attempt ended and when (or whether) the contact is dialled again."""

    call_id: str
    campaign_id: int
    contact_id: int
    outcome: Outcome
    agent_id: str | None
    wall_at: dt.datetime
    answered_at: dt.datetime | None
    connected_at: dt.datetime | None
    reason: int | None = None
    dial_status: str | None = None
    cause: int | None = None
    final: bool = False
    retry_at: dt.datetime | None = None
    counted_human: float | None = None
    """An abandon nobody heard: how much the predictive pacer counted it as a person."""


@dataclass(frozen=True, slots=True)
class RecountAbandon:
    """The predictive pacer counted an abandon nobody heard again: store its new count
    (how much it counts as a person), so that a restart counts it the same way."""

    call_id: str
    counted_human: float


@dataclass(frozen=True, slots=True)
class RecordRefusal:
    """The gate refused a claimed contact: release it, finished or due again at ``retry_at``."""

    campaign_id: int
    contact_id: int
    reason: Refusal
    final: bool
    retry_at: dt.datetime | None
    wall_at: dt.datetime


@dataclass(frozen=True, slots=True)
class RecordDisposition:
    """An agent set the result of a call during wrap-up."""

    call_id: str
    agent_id: str
    result_id: int | None
    memo: str
    human: bool | None = None
    """The agent's verdict: whether a person answered (None: not said)."""


@dataclass(frozen=True, slots=True)
class OfferPreview:
    """Show a claimed contact to a preview agent, who calls or skips it."""

    agent_id: str
    campaign_id: int
    contact_id: int
    number: str


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """An agent changed state (for MQTT, metrics and the log)."""

    agent_id: str
    state: str
    call_id: str | None
    reason: str = ""


Command = (
    ClaimContacts
    | RecordAttempt
    | Originate
    | Redirect
    | HangupCall
    | CallAgentPhone
    | HangupAgentPhone
    | RecordOutcome
    | RecountAbandon
    | RecordRefusal
    | RecordDisposition
    | OfferPreview
    | AgentStatus
)
