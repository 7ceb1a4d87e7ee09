"""The administration domain: campaigns, contacts, do-not-call lists, results, agents.

Field rules (from the feature reference): a campaign name is 1–100 characters and unique,
its memo at most 500; a result name 1–60; maximum attempts at least 1; an agent-owned
preview campaign keeps its dial mode for life. Campaign states and the moves between them
are a table: a campaign is created ``inactive``; ``active`` lets agents join; ``running``
dials; ``paused`` stops dialling but keeps the campaign open. A running campaign cannot be
edited or deleted, and its business hours cannot change.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from dialerd.errors import ConflictError, UsageError


class DialMode(enum.StrEnum):
    """How a campaign paces its calls."""

    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    POWER = "power"
    PREDICTIVE = "predictive"


class CampaignState(enum.StrEnum):
    """The campaign's life cycle."""

    INACTIVE = "inactive"
    ACTIVE = "active"
    RUNNING = "running"
    PAUSED = "paused"


# Which state each command leads to from each state; a missing pair is an illegal move.
CAMPAIGN_TRANSITIONS: Mapping[tuple[CampaignState, str], CampaignState] = {
    (CampaignState.INACTIVE, "activate"): CampaignState.ACTIVE,
    (CampaignState.ACTIVE, "deactivate"): CampaignState.INACTIVE,
    (CampaignState.PAUSED, "deactivate"): CampaignState.INACTIVE,
    (CampaignState.ACTIVE, "start"): CampaignState.RUNNING,
    (CampaignState.PAUSED, "start"): CampaignState.RUNNING,
    (CampaignState.RUNNING, "pause"): CampaignState.PAUSED,
    (CampaignState.RUNNING, "stop"): CampaignState.ACTIVE,
    (CampaignState.PAUSED, "stop"): CampaignState.ACTIVE,
}


def next_campaign_state(state: CampaignState, command: str) -> CampaignState:
    """The state after ``command``; an illegal move raises and changes nothing."""
    try:
        return CAMPAIGN_TRANSITIONS[(state, command)]
    except KeyError:
        raise ConflictError(f"cannot {command} a campaign that is {state.value}") from None


class DedupeKey(enum.StrEnum):
    """What makes two contacts of one campaign the same contact."""

    NUMBER = "number"
    EMAIL = "email"
    ACCOUNT = "account"


class ContactStatus(enum.StrEnum):
    """A contact's place in one campaign."""

    NEW = "new"
    CLAIMED = "claimed"
    RETRY = "retry"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


CONTACT_STATUSES = frozenset(ContactStatus)
DIALABLE_STATUSES = frozenset({ContactStatus.NEW, ContactStatus.RETRY})


@dataclass(frozen=True, slots=True)
class CampaignSettings:
    """Everything an administrator sets on a campaign."""

    name: str
    dial_mode: DialMode = DialMode.PROGRESSIVE
    description: str = ""
    max_attempts: int = 3
    caller_id: str = ""
    present_caller_id: bool = True
    route: str = ""
    ami_servers: tuple[str, ...] = ()
    wrapup_enabled: bool = True
    wrapup_limit_s: int = 60
    timezone: str = "UTC"
    default_region: str = "US"
    holiday_country: str = ""
    holiday_subdivision: str = ""
    responsible: str = ""
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    agent_owned: bool = False
    power_ratio: float = 1.5
    abandon_target: float = 0.03
    lock_time_s: int = 300
    dedupe_key: DedupeKey = DedupeKey.NUMBER
    ring_timeout_s: int = 25
    amd_enabled: bool = False
    amd_false_positive_rate: float = 0.05
    """With AMD: the estimated share of people judged machines and hung up on. Each is an
    abandoned call, so the pacer counts them; at or above ``abandon_target`` predictive
    dialing cannot comply and stays progressive."""
    abandon_regime: str = "US"
    """Whose abandon rule: US (30-day window) or UK (24-hour window)."""
    abandon_reserve_sd: float = 1.0
    """Predictive: the budget guard's reserve against the abandons the pacer can only
    estimate (people among answers abandoned unheard, AMD's false positives), in standard
    deviations, 1 to 4. More makes a shift that ends over the target rarer and costs
    occupancy (docs/pacing.md)."""
    take_back_ringing: bool = True
    """Predictive: hang up calls that have rung at least 15 s when agents are short
    (a ring timeout that shortens as needed, never under the legal 15 s). Off: every
    call rings until it is answered or its ``ring_timeout_s``, for fewer dials and less
    occupancy (docs/pacing.md)."""
    local_hours: str = "08:00-21:00"
    """When the called party may be called, in their own time zone (US rule: 08:00-21:00)."""
    retry_rules: str = ""
    """Per-outcome retries, ``outcome:minutes:times`` comma-separated; empty = defaults."""


@dataclass(frozen=True, slots=True)
class Campaign:
    """A stored campaign: its generated id, state and settings."""

    id: int
    state: CampaignState
    settings: CampaignSettings
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def name(self) -> str:
        """The campaign's unique name."""
        return self.settings.name


ABANDON_WINDOWS_S = {"US": 30 * 86400.0, "UK": 86400.0}
"""The window each regime measures the abandon rate over, in seconds."""

_REGION = re.compile(r"^[A-Z]{2}$")


def validate_campaign(s: CampaignSettings) -> None:
    """Raise :class:`UsageError` naming the first field that breaks a rule."""
    if not 1 <= len(s.name.strip()) <= 100 or len(s.name) > 100:
        raise UsageError("name: must be 1 to 100 characters")
    if len(s.description) > 500:
        raise UsageError("description: must be at most 500 characters")
    if s.max_attempts < 1:
        raise UsageError("max_attempts: must be at least 1")
    if not 0 <= s.wrapup_limit_s <= 86_400:
        raise UsageError("wrapup_limit_s: must be 0 to 86400")
    if not 0 < s.abandon_target < 1:
        raise UsageError("abandon_target: must be a fraction between 0 and 1")
    if not 1.0 <= s.power_ratio <= 10.0:
        raise UsageError("power_ratio: must be 1.0 to 10.0 calls per agent")
    if not 0 <= s.amd_false_positive_rate < 1:
        raise UsageError("amd_false_positive_rate: must be a fraction from 0 to below 1")
    if not 1.0 <= s.abandon_reserve_sd <= 4.0:
        raise UsageError("abandon_reserve_sd: must be 1 to 4 standard deviations")
    if s.abandon_regime not in ABANDON_WINDOWS_S:
        raise UsageError("abandon_regime: must be US (30 days) or UK (24 hours)")
    if s.ring_timeout_s < 15 or s.ring_timeout_s > 120:
        raise UsageError("ring_timeout_s: must be 15 to 120 seconds (the law wants >= 15)")
    if s.lock_time_s < 0:
        raise UsageError("lock_time_s: must not be negative")
    if not _REGION.match(s.default_region):
        raise UsageError("default_region: must be a two-letter region code such as US or JP")
    if s.holiday_country and not _REGION.match(s.holiday_country):
        raise UsageError("holiday_country: must be a two-letter country code")
    if s.present_caller_id and s.caller_id and not re.fullmatch(r"\+?[0-9]{3,20}", s.caller_id):
        raise UsageError("caller_id: must be digits, optionally with a leading +")
    if s.start_date and s.end_date and s.end_date < s.start_date:
        raise UsageError("end_date: must not be before start_date")
    if s.agent_owned and s.dial_mode is not DialMode.PREVIEW:
        raise UsageError("agent_owned: only preview campaigns can have agent-owned records")
    if parse_local_hours(s.local_hours) is None:
        raise UsageError("local_hours: write it like 08:00-21:00 (end may be 24:00)")
    if parse_retry_rules(s.retry_rules) is None:
        raise UsageError(
            "retry_rules: write outcome:minutes:times, comma-separated, e.g."
            f" busy:10:3,no_answer:60:2 (outcomes: {', '.join(sorted(RETRYABLE_OUTCOMES))})"
        )
    if len(s.responsible) > 100:
        raise UsageError("responsible: must be at most 100 characters")


def amd_outspends_target(s: CampaignSettings) -> bool:
    """Whether AMD's false positives alone reach the abandon target of a predictive
    campaign: each is an abandoned call, so no pacing can comply and it dials
    progressively."""
    return (
        s.dial_mode is DialMode.PREDICTIVE
        and s.amd_enabled
        and s.amd_false_positive_rate >= s.abandon_target
    )


def campaign_warnings(s: CampaignSettings) -> list[str]:
    """Settings that are valid but will not do what a user likely wants."""
    warnings = []
    if amd_outspends_target(s):
        warnings.append(
            f"amd_false_positive_rate {s.amd_false_positive_rate:g} is at or above"
            f" abandon_target {s.abandon_target:g}: AMD's false positives alone use up the"
            " abandon budget, so this predictive campaign will dial progressively;"
            " measure your AMD and set its false-positive rate (docs/pacing.md, AMD)"
        )
    return warnings


def parse_local_hours(text: str) -> tuple[dt.time, dt.time] | None:
    """``HH:MM-HH:MM`` as (start, end); an end of 24:00 is midnight; None if malformed."""
    m = re.fullmatch(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})", text.strip())
    if not m:
        return None
    h1, m1, h2, m2 = (int(x) for x in m.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        return None
    start, end = dt.time(h1, m1), dt.time(0, 0) if h2 == 24 else dt.time(h2, m2)
    if end != dt.time(0, 0) and end <= start:
        return None
    return start, end


RETRYABLE_OUTCOMES = frozenset(
    {"busy", "no_answer", "congestion", "failed", "answered_machine", "abandoned"}
)


def parse_retry_rules(text: str) -> dict[str, tuple[int, int]] | None:
    """``busy:10:3,no_answer:60:2`` as {outcome: (minutes, times)}; None if malformed."""
    rules: dict[str, tuple[int, int]] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"([a-z_]+):(\d{1,5}):(\d{1,2})", part)
        if not m or m[1] not in RETRYABLE_OUTCOMES:
            return None
        rules[m[1]] = (int(m[2]), int(m[3]))
    return rules


def check_campaign_edit(current: Campaign, new: CampaignSettings) -> None:
    """Refuse an edit the campaign's state or kind does not allow."""
    if current.state is CampaignState.RUNNING:
        raise ConflictError(f"campaign {current.id} is running: pause or stop it first")
    if current.settings.agent_owned and new.dial_mode is not current.settings.dial_mode:
        raise ConflictError("dial_mode: an agent-owned preview campaign keeps its mode")
    if current.settings.agent_owned != new.agent_owned:
        raise ConflictError("agent_owned: fixed when the campaign is created")
    validate_campaign(new)


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """One opening interval of the weekly schedule (campaign time zone, end exclusive)."""

    weekday: int  # Monday = 0, as datetime.weekday()
    start: dt.time
    end: dt.time

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise UsageError("weekday: must be 0 (Monday) to 6 (Sunday)")
        if self.end <= self.start and self.end != dt.time(0, 0):
            raise UsageError(f"business hours: {self.start} to {self.end} is empty")


@dataclass(frozen=True, slots=True)
class ScheduleException:
    """A dated exception: closed all day, or open only during given hours."""

    day: dt.date
    closed: bool
    start: dt.time | None = None
    end: dt.time | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class RunWindow:
    """A dated batch during which the campaign may dial (inclusive dates)."""

    id: int
    start: dt.date
    end: dt.date
    note: str = ""


@dataclass(frozen=True, slots=True)
class Contact:
    """A contact and its membership in one campaign."""

    id: int
    campaign_id: int
    phone: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    company: str = ""
    account: str = ""
    owner: str = ""
    timezone: str = ""
    custom: Mapping[str, str] = field(default_factory=dict)
    status: ContactStatus = ContactStatus.NEW
    attempts: int = 0
    last_result: str = ""
    last_call_at: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None
    trashed: bool = False


@dataclass(frozen=True, slots=True)
class ContactFilter:
    """Which contacts of a campaign a listing or a bulk action applies to.

    Every field narrows the set; ``custom`` matches exact values of custom fields.
    """

    status: frozenset[ContactStatus] | None = None
    owner: str | None = None
    unowned: bool = False
    account: str | None = None
    min_attempts: int | None = None
    max_attempts: int | None = None
    last_result: str | None = None
    called_before: dt.datetime | None = None
    called_after: dt.datetime | None = None
    never_called: bool = False
    custom: Mapping[str, str] = field(default_factory=dict)
    phone_prefix: str | None = None
    trashed: bool = False


@dataclass(frozen=True, slots=True)
class ResultCode:
    """A disposition an agent sets during wrap-up."""

    id: int
    campaign_id: int
    name: str
    is_contact: bool
    is_complete: bool
    is_success: bool
    memo: str
    display_order: int


def validate_result_name(name: str) -> None:
    """A result name is 1–60 characters."""
    if not len(name.strip()) >= 1 or len(name) > 60:
        raise UsageError("name: a result name must be 1 to 60 characters")


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent: an id, a name and the dial string of its phone."""

    id: str
    name: str
    endpoint: str
    email: str = ""


_AGENT_ID = re.compile(r"^[A-Za-z0-9_]{1,32}$")


def validate_agent(agent: Agent) -> None:
    """Agent ids become dialplan extensions, so they are short and plain."""
    if not _AGENT_ID.match(agent.id):
        raise UsageError("id: 1 to 32 letters, digits or underscores")
    if not agent.endpoint or "/" not in agent.endpoint:
        raise UsageError("endpoint: a dial string such as PJSIP/1001")
    if len(agent.name) > 100:
        raise UsageError("name: at most 100 characters")


@dataclass(frozen=True, slots=True)
class DncList:
    """A do-not-call list: global (``campaign_id`` None) or one campaign's."""

    id: int
    name: str
    campaign_id: int | None
    numbers: int
    uploaded_at: dt.datetime
