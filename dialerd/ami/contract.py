"""The contract between dialerd and the dialplan it ships (``config/asterisk/``).

Every name that both sides must spell the same lives here: the contexts dialerd originates
into, the UserEvents the dialplan raises, their headers, and the channel ids dialerd picks.
The simulated Asterisk, the AMI translation and the engine all import these constants, and
``config/asterisk/extensions_dialerd.conf`` is tested against them.

Channel ids: every call gets an id ``C`` (32 lowercase hex digits) chosen by dialerd. The
customer leg is created with ``ChannelId: C-a`` and, for Local channels, ``OtherChannelId:
C-b``; ``ActionID`` of the Originate is ``C``. The two suffixes differ in their last
character, so neither id is a prefix of the other — Asterisk's ``Bridge`` looks channels up
by name *prefix* and would otherwise grab the wrong half. Agent sessions use the same scheme
with their own id.
"""

from __future__ import annotations

from typing import Final

# Contexts (extension ``s`` unless noted).
CUSTOMER_CONTEXT: Final = "dialerd-customer"
"""Where an answered customer lands: AMD, then the hold timer, then safe harbor."""
CONNECT_CONTEXT: Final = "dialerd-connect"
"""Redirect target; the extension is the agent id, the dialplan joins the agent's ConfBridge."""
AGENT_CONTEXT: Final = "dialerd-agent"
"""Where an agent's phone lands after dialerd calls it; the extension is the agent id."""
CONFERENCE_PREFIX: Final = "dialerd-agent-"
"""Each logged-in agent waits in ConfBridge ``dialerd-agent-<agent id>``."""

# Channel variables dialerd sets with ``Variable:`` on Originate.
VAR_CALL_ID: Final = "DIALER_CALL_ID"
VAR_AGENT_ID: Final = "DIALER_AGENT_ID"
VAR_AMD: Final = "DIALER_AMD"
"""``1`` runs answering-machine detection, ``0`` skips it."""
VAR_HOLD_MS: Final = "DIALER_HOLD_MS"
"""How long after answer the customer may wait for an agent before safe harbor (ms)."""
VAR_SAFE_HARBOR: Final = "DIALER_SAFE_HARBOR"
"""The sound file played to an abandoned customer (identifies the caller)."""

# UserEvents raised by the shipped dialplan; each carries the header named below.
EV_AMD: Final = "DialerAMD"
"""AMD verdict: headers ``DialerCallId``, ``AMDStatus`` (HUMAN, MACHINE, NOTSURE, HANGUP),
``AMDCause``."""
EV_READY: Final = "DialerReady"
"""The customer is answered (and judged human) and waits for an agent: ``DialerCallId``."""
EV_MACHINE: Final = "DialerMachine"
"""A machine answered; the dialplan hangs up (or drops a message): ``DialerCallId``."""
EV_SAFE_HARBOR: Final = "DialerSafeHarbor"
"""No agent within the hold time: message played, call ended, counted abandoned."""
EV_CONNECTED: Final = "DialerConnected"
"""The customer entered the agent's conference: ``DialerCallId``, ``DialerAgentId``."""
EV_AGENT_READY: Final = "DialerAgentReady"
"""An agent's phone answered and sits in its conference: ``DialerAgentId``."""
EV_AGENT_GONE: Final = "DialerAgentGone"
"""An agent's phone left (hung up): ``DialerAgentId``."""

H_CALL_ID: Final = "DialerCallId"
H_AGENT_ID: Final = "DialerAgentId"
H_AMD_STATUS: Final = "AMDStatus"
H_AMD_CAUSE: Final = "AMDCause"

CUSTOMER_SUFFIX: Final = "-a"
PEER_SUFFIX: Final = "-b"


def customer_channel_id(call_id: str) -> str:
    """The ``ChannelId`` of a call's customer leg."""
    return call_id + CUSTOMER_SUFFIX


def peer_channel_id(call_id: str) -> str:
    """The ``OtherChannelId`` (the Local channel's ``;2`` half) of a call."""
    return call_id + PEER_SUFFIX


def call_id_of(uniqueid: str) -> str | None:
    """The call id behind a ``Uniqueid`` we chose, or ``None`` for a channel not ours."""
    for suffix in (CUSTOMER_SUFFIX, PEER_SUFFIX):
        if uniqueid.endswith(suffix):
            stem = uniqueid[: -len(suffix)]
            if len(stem) == 32 and all(c in "0123456789abcdef" for c in stem):
                return stem
    return None
