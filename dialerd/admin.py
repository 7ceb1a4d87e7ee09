"""Administration services: every change an administrator makes, validated and atomic.

The CLI calls these today and the MQTT interface will call the same functions, so rules
live here (and in ``core.model``), never in a front end. Each function either does all of
its work or raises a :class:`~dialerd.errors.UsageError` subclass and changes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import holidays

from dialerd.config import LimitsConfig
from dialerd.core.model import (
    Agent,
    BusinessHours,
    Campaign,
    CampaignSettings,
    CampaignState,
    ContactFilter,
    ContactStatus,
    DedupeKey,
    DialMode,
    DncList,
    ResultCode,
    check_campaign_edit,
    next_campaign_state,
    validate_agent,
    validate_campaign,
    validate_result_name,
)
from dialerd.errors import NotFoundError, UsageError
from dialerd.numbers import dnc_keys, normalize
from dialerd.ports import BatchResult, Store


def utcnow() -> dt.datetime:
    """The current time, timezone-aware."""
    return dt.datetime.now(dt.UTC)


# -- campaigns --------------------------------------------------------------------------

_SETTING_TYPES = {f.name: f.type for f in dataclasses.fields(CampaignSettings)}


def coerce_settings(
    base: CampaignSettings, changes: Mapping[str, Any], *, validate: bool = True
) -> CampaignSettings:
    """Apply ``changes`` (strings from a CLI or typed values) to settings, checking types."""
    unknown = sorted(set(changes) - set(_SETTING_TYPES))
    if unknown:
        raise UsageError(f"{unknown[0]}: not a campaign setting")
    values: dict[str, Any] = {}
    for key, raw in changes.items():
        values[key] = _coerce(key, raw)
    new = dataclasses.replace(base, **values)
    if validate:
        validate_campaign(new)
    return new


def _coerce(key: str, raw: Any) -> Any:
    kind = str(_SETTING_TYPES[key])
    try:
        if kind == "DialMode":
            return DialMode(raw)
        if kind == "DedupeKey":
            return DedupeKey(raw)
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).lower()
            if text not in {"true", "false", "yes", "no", "1", "0", "on", "off"}:
                raise ValueError(raw)
            return text in {"true", "yes", "1", "on"}
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "dt.date | None":
            return None if raw in (None, "") else _date(raw)
        if kind == "tuple[str, ...]":
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(s.strip() for s in items if s.strip())
        if kind == "str":
            return str(raw)
    except ValueError:
        raise UsageError(f"{key}: {raw!r} is not a valid {_describe(kind)}") from None
    raise AssertionError(f"no coercion for {key}: {kind}")  # pragma: no cover


def _describe(kind: str) -> str:
    return {
        "DialMode": "dial mode (" + ", ".join(m.value for m in DialMode) + ")",
        "DedupeKey": "dedupe key (" + ", ".join(k.value for k in DedupeKey) + ")",
        "bool": "yes/no value",
        "int": "whole number",
        "float": "number",
        "dt.date | None": "date (YYYY-MM-DD)",
    }.get(kind, kind)


def _date(raw: Any) -> dt.date:
    if isinstance(raw, dt.date):
        return raw
    return dt.date.fromisoformat(str(raw))


def _check_zone(name: str) -> None:
    import zoneinfo  # noqa: PLC0415 - only needed when a zone is set

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"timezone: {name!r} is not a known IANA time zone") from None


async def create_campaign(
    store: Store, name: str, changes: Mapping[str, Any], limits: LimitsConfig
) -> Campaign:
    """Create a campaign (inactive) with ``changes`` over the defaults."""
    settings = coerce_settings(CampaignSettings(name=name), changes)
    _check_zone(settings.timezone)
    return await store.create_campaign(settings, now=utcnow(), max_campaigns=limits.max_campaigns)


async def edit_campaign(store: Store, ref: int | str, changes: Mapping[str, Any]) -> Campaign:
    """Change settings of a campaign that is not running."""
    current = await store.get_campaign(ref)
    new = coerce_settings(current.settings, changes, validate=False)
    check_campaign_edit(current, new)
    _check_zone(new.timezone)
    return await store.update_campaign(current.id, new, now=utcnow())


async def change_state(store: Store, ref: int | str, command: str) -> Campaign:
    """Activate, deactivate (passivate), start, pause or stop a campaign.

    Deactivating keeps every contact, attempt and result, so reactivating continues
    exactly where the campaign stopped.
    """
    current = await store.get_campaign(ref)
    new_state = next_campaign_state(current.state, command)
    return await store.set_campaign_state(current.id, current.state, new_state, now=utcnow())


async def delete_campaign(store: Store, ref: int | str) -> Campaign:
    """Delete a campaign that is not running; contacts and call history are kept."""
    current = await store.get_campaign(ref)
    await store.delete_campaign(current.id)
    return current


# -- schedules --------------------------------------------------------------------------

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS_SPEC = re.compile(
    r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?(?:,[a-z]{3}(?:-[a-z]{3})?)*)\s+"
    r"(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$"
)


def parse_hours(specs: Iterable[str]) -> list[BusinessHours]:
    """Parse ``mon-fri 09:00-18:00`` style lines into weekly intervals (end exclusive)."""
    out: list[BusinessHours] = []
    for spec in specs:
        m = _HOURS_SPEC.match(spec.strip().lower())
        if not m:
            raise UsageError(f"hours {spec!r}: write it like 'mon-fri 09:00-18:00'")
        try:
            start = dt.time.fromisoformat(m["start"].zfill(5))
            end_text = m["end"].zfill(5)
            end = dt.time(0, 0) if end_text == "24:00" else dt.time.fromisoformat(end_text)
        except ValueError:
            raise UsageError(f"hours {spec!r}: not a time of day") from None
        for part in m["days"].split(","):
            first, _, last = part.partition("-")
            if first not in _DAYS or (last and last not in _DAYS):
                raise UsageError(f"hours {spec!r}: days are mon, tue, wed, thu, fri, sat, sun")
            a, b = _DAYS.index(first), _DAYS.index(last or first)
            if b < a:
                raise UsageError(f"hours {spec!r}: {part} runs backwards")
            out.extend(BusinessHours(d, start, end) for d in range(a, b + 1))
    _check_overlaps(out)
    return out


def _check_overlaps(hours: Sequence[BusinessHours]) -> None:
    by_day: dict[int, list[BusinessHours]] = {}
    for h in hours:
        by_day.setdefault(h.weekday, []).append(h)
    for day, items in by_day.items():
        items.sort(key=lambda h: h.start)
        for a, b in itertools.pairwise(items):
            a_end = a.end if a.end != dt.time(0, 0) else dt.time.max
            if b.start < a_end:
                raise UsageError(f"hours: {_DAYS[day]} intervals overlap")


async def set_hours(store: Store, ref: int | str, specs: Iterable[str]) -> list[BusinessHours]:
    """Replace a campaign's weekly schedule."""
    campaign = await store.get_campaign(ref)
    hours = parse_hours(specs)
    await store.set_business_hours(campaign.id, hours)
    return hours


def public_holidays(campaign: Campaign, year: int) -> dict[dt.date, str]:
    """The public holidays of the campaign's holiday country/region in ``year``."""
    s = campaign.settings
    if not s.holiday_country:
        return {}
    try:
        table = holidays.country_holidays(
            s.holiday_country, subdiv=s.holiday_subdivision or None, years=year
        )
    except NotImplementedError:
        raise UsageError(
            f"holiday_country: no public holiday calendar for {s.holiday_country!r}"
        ) from None
    return dict(sorted(table.items()))


# -- contacts ---------------------------------------------------------------------------


async def _agent_ref(store: Store, ref: str) -> str:
    """Resolve an owner given as agent id or email to the agent id; unknown is an error."""
    for agent in await store.agents():
        if ref in (agent.id, agent.email) and ref:
            return agent.id
    raise NotFoundError(f"no agent with id or email {ref!r}")


async def bulk_action(
    store: Store,
    ref: int | str,
    action: str,
    f: ContactFilter,
    *,
    target: int | str | None = None,
    owner: str | None = None,
    status: str | None = None,
) -> int | BatchResult:
    """Apply one bulk action to the contacts of a campaign that match ``f``.

    Actions: ``remove``, ``keep`` (remove every contact *not* matching), ``copy`` (add to
    ``target``), ``set-owner``, ``reassign`` (every contact of owner ``f.owner`` to
    ``owner``), ``unassign``, ``set-status``, ``trash``, ``restore``.
    """
    campaign = await store.get_campaign(ref)
    match action:
        case "remove" | "keep":
            return await store.remove_contacts(campaign.id, f, invert=action == "keep")
        case "copy":
            if target is None:
                raise UsageError("copy: name the target campaign")
            dest = await store.get_campaign(target)
            return await store.copy_contacts(
                campaign.id, f, dest.id, target_key=dest.settings.dedupe_key
            )
        case "set-owner":
            if not owner:
                raise UsageError("set-owner: name the agent (id or email)")
            return await store.bulk_update(
                campaign.id, f, {"owner": await _agent_ref(store, owner)}
            )
        case "reassign":
            if not f.owner or not owner:
                raise UsageError("reassign: give --from AGENT and --to AGENT")
            new_owner = await _agent_ref(store, owner)
            return await store.bulk_update(campaign.id, f, {"owner": new_owner})
        case "unassign":
            return await store.bulk_update(campaign.id, f, {"owner": ""})
        case "set-status":
            try:
                new_status = ContactStatus(status or "")
            except ValueError:
                choices = ", ".join(s.value for s in ContactStatus)
                raise UsageError(f"set-status: status must be one of {choices}") from None
            if new_status is ContactStatus.CLAIMED:
                raise UsageError("set-status: only the dialer claims contacts")
            return await store.bulk_update(campaign.id, f, {"status": new_status.value})
        case "trash":
            return await store.bulk_update(campaign.id, f, {"trashed": 1})
        case "restore":
            restore = dataclasses.replace(f, trashed=True)
            return await store.bulk_update(campaign.id, restore, {"trashed": 0})
    raise UsageError(f"unknown bulk action {action!r}")


# -- do-not-call ------------------------------------------------------------------------


async def check_number(
    store: Store, number: str, *, campaign: int | str | None, region: str | None
) -> tuple[str, list[DncList]]:
    """Normalise ``number`` and return the lists (global and the campaign's) holding it."""
    campaign_id = None
    default_region = region or "US"
    if campaign is not None:
        c = await store.get_campaign(campaign)
        campaign_id = c.id
        default_region = region or c.settings.default_region
    e164 = normalize(number, default_region)
    return e164, await store.dnc_matches(dnc_keys(e164), campaign_id)


# -- results and agents ----------------------------------------------------------------


async def add_result(
    store: Store,
    ref: int | str,
    name: str,
    *,
    contact: bool,
    complete: bool,
    success: bool,
    memo: str = "",
    order: int | None = None,
) -> ResultCode:
    """Add a result (disposition) to a campaign; by default it goes last."""
    validate_result_name(name)
    if len(memo) > 500:
        raise UsageError("memo: at most 500 characters")
    campaign = await store.get_campaign(ref)
    if order is None:
        existing = await store.results(campaign.id)
        order = max((r.display_order for r in existing), default=0) + 1
    return await store.add_result(
        ResultCode(0, campaign.id, name.strip(), contact, complete, success, memo, order)
    )


async def edit_result(
    store: Store, ref: int | str, result_id: int, changes: Mapping[str, Any]
) -> ResultCode:
    """Change a result's name, flags, memo or display order."""
    campaign = await store.get_campaign(ref)
    current = next((r for r in await store.results(campaign.id) if r.id == result_id), None)
    if current is None:
        raise NotFoundError(f"campaign {campaign.id} has no result {result_id}")
    new = dataclasses.replace(current, **changes)
    validate_result_name(new.name)
    if len(new.memo) > 500:
        raise UsageError("memo: at most 500 characters")
    return await store.update_result(new)


async def add_agent(store: Store, agent: Agent) -> Agent:
    """Add an agent after checking its id and dial string."""
    validate_agent(agent)
    return await store.add_agent(agent, now=utcnow())


async def assign_agents(
    store: Store,
    ref: int | str,
    agent_ids: Sequence[str],
    *,
    assigned: bool,
    limits: LimitsConfig,
) -> Campaign:
    """Assign agents to a campaign (agent-owned campaigns take at most the configured cap)."""
    campaign = await store.get_campaign(ref)
    limit = limits.agents_per_owned_campaign if campaign.settings.agent_owned else None
    await store.assign_agents(campaign.id, agent_ids, assigned=assigned, limit=limit)
    return campaign


async def copy_assignments(
    store: Store, source: int | str, target: int | str, limits: LimitsConfig
) -> int:
    """Give ``target`` every agent assigned to ``source``."""
    src = await store.get_campaign(source)
    dst = await store.get_campaign(target)
    limit = limits.agents_per_owned_campaign if dst.settings.agent_owned else None
    return await store.copy_assignments(src.id, dst.id, limit=limit)


def campaign_summary(c: Campaign) -> dict[str, Any]:
    """A JSON-ready view of a campaign."""
    s = dataclasses.asdict(c.settings)
    for key in ("start_date", "end_date"):
        if s[key] is not None:
            s[key] = s[key].isoformat()
    s["ami_servers"] = list(s["ami_servers"])
    s["dial_mode"] = c.settings.dial_mode.value
    s["dedupe_key"] = c.settings.dedupe_key.value
    return {
        "id": c.id,
        "state": c.state.value,
        **s,
        "created_at": c.created_at.isoformat(),
        "updated_at": c.updated_at.isoformat(),
    }


__all__ = [
    "CampaignState",
    "add_agent",
    "add_result",
    "assign_agents",
    "bulk_action",
    "campaign_summary",
    "change_state",
    "check_number",
    "copy_assignments",
    "create_campaign",
    "delete_campaign",
    "edit_campaign",
    "edit_result",
    "parse_hours",
    "public_holidays",
    "set_hours",
]
