"""A predictive campaign's AMD estimate and abandon regime reach its pacer; an estimate
that alone uses up the abandon target is announced and the pacer stays progressive."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import MutableMapping
from typing import Any, cast

import pytest
from structlog.testing import capture_logs

from dialerd.adapters.ami_pool import AmiPool
from dialerd.adapters.sqlite_store import SqliteStore
from dialerd.config import Config
from dialerd.core.model import CampaignSettings, CampaignState, DialMode, validate_campaign
from dialerd.core.pacing import PredictiveConfig, PredictivePacer
from dialerd.errors import UsageError
from dialerd.service import Service

NOW = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)


async def started(
    store: SqliteStore, settings: CampaignSettings
) -> tuple[Service, int, list[MutableMapping[str, Any]]]:
    """Create, run and start one campaign; return the service, its id and the log lines."""
    cid = (await store.create_campaign(settings, now=NOW, max_campaigns=9)).id
    await store.set_campaign_state(cid, CampaignState.INACTIVE, CampaignState.RUNNING, now=NOW)
    s = Service(Config(), store, cast(AmiPool, object()), clock=lambda: 500.0, wall=lambda: NOW)
    with capture_logs() as logs:
        assert await s.start_campaigns() == [cid]
    return s, cid, logs


def pacer_of(s: Service, cid: int) -> PredictivePacer:
    """The campaign's predictive pacer."""
    pacer = s.dialer.campaigns[cid].pacer
    assert isinstance(pacer, PredictivePacer)
    return pacer


async def test_amd_estimate_over_the_target_is_announced_and_stays_progressive(
    store: SqliteStore,
) -> None:
    """5 % false positives against a 3 % target: a warning, and the pacer cannot go predictive."""
    settings = CampaignSettings("c", dial_mode=DialMode.PREDICTIVE, amd_enabled=True)
    s, cid, logs = await started(store, settings)
    pacer = pacer_of(s, cid)
    assert pacer.config.amd_false_positive_rate == 0.05
    assert pacer.amd_budget_spent
    [warning] = [x for x in logs if x["event"] == "amd_false_positives_exceed_abandon_target"]
    assert (warning["campaign"], warning["log_level"]) == (cid, "warning")


async def test_amd_estimate_under_the_target_is_counted_without_warning(
    store: SqliteStore,
) -> None:
    """1 % false positives against 3 %: counted by the pacer, nothing to announce."""
    settings = CampaignSettings(
        "c", dial_mode=DialMode.PREDICTIVE, amd_enabled=True, amd_false_positive_rate=0.01
    )
    s, cid, logs = await started(store, settings)
    assert pacer_of(s, cid).config.amd_false_positive_rate == 0.01
    assert not pacer_of(s, cid).amd_budget_spent
    assert not [x for x in logs if x["log_level"] == "warning"]


async def test_without_amd_the_estimate_is_ignored(store: SqliteStore) -> None:
    """No AMD, no false positives: the estimate does not reach the pacer."""
    s, cid, _ = await started(store, CampaignSettings("c", dial_mode=DialMode.PREDICTIVE))
    assert pacer_of(s, cid).config.amd_false_positive_rate == 0.0


@pytest.mark.parametrize(("regime", "window_s"), [("US", 30 * 86400.0), ("UK", 86400.0)])
async def test_the_regime_sets_the_pacers_window(
    store: SqliteStore, regime: str, window_s: float
) -> None:
    """US counts abandons over 30 days, UK over 24 hours."""
    settings = CampaignSettings("c", dial_mode=DialMode.PREDICTIVE, abandon_regime=regime)
    s, cid, _ = await started(store, settings)
    assert pacer_of(s, cid).config.window_s == window_s


@pytest.mark.parametrize(("reserve_sd", "expected"), [(None, 1.0), (2.5, 2.5)])
async def test_the_campaigns_reserve_reaches_the_pacers_guard(
    store: SqliteStore, reserve_sd: float | None, expected: float
) -> None:
    """A campaign may keep a larger reserve against the abandons only estimated; by
    default the pacer's own."""
    settings = CampaignSettings("c", dial_mode=DialMode.PREDICTIVE)
    if reserve_sd is not None:
        settings = dataclasses.replace(settings, abandon_reserve_sd=reserve_sd)
    s, cid, _ = await started(store, settings)
    assert pacer_of(s, cid).config.reserve_sd == expected


@pytest.mark.parametrize(
    ("take_back", "risk"), [(True, PredictiveConfig().cancel_risk), (False, 0.0)]
)
async def test_a_campaign_may_let_every_call_ring_to_its_timeout(
    store: SqliteStore, take_back: bool, risk: float
) -> None:
    """By default the pacer may take back calls that have rung 15 s; a campaign can
    turn that off, and then its pacer never hangs up a ringing call."""
    settings = CampaignSettings("c", dial_mode=DialMode.PREDICTIVE, take_back_ringing=take_back)
    s, cid, _ = await started(store, settings)
    assert pacer_of(s, cid).config.cancel_risk == risk
    assert risk > 0 or not take_back


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (CampaignSettings("c", abandon_reserve_sd=0.5), "abandon_reserve_sd: must be 1 to 4"),
        (CampaignSettings("c", abandon_reserve_sd=4.5), "abandon_reserve_sd: must be 1 to 4"),
        (CampaignSettings("c", amd_false_positive_rate=1.0), "amd_false_positive_rate: must be"),
        (CampaignSettings("c", amd_false_positive_rate=-0.1), "amd_false_positive_rate: must be"),
        (CampaignSettings("c", abandon_regime="EU"), "abandon_regime: must be US (30 days) or UK"),
    ],
)
def test_bad_amd_estimate_regime_or_reserve_is_refused(
    settings: CampaignSettings, message: str
) -> None:
    """Out-of-range estimates and reserves and unknown regimes are refused, naming the field."""
    with pytest.raises(UsageError, match=re.escape(message)):
        validate_campaign(settings)
