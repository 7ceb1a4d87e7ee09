"""Error classes that say whose fault a failure is.

``UsageError`` is the caller's (bad input, an unknown campaign, a refused change);
``RemoteProtocolError`` is a peer's (Asterisk or a broker sent something we cannot use);
``LinkLost`` is nobody's fault but must never be retried silently.
"""

from __future__ import annotations


class DialerdError(Exception):
    """Base class of every error dialerd raises on purpose."""


class UsageError(DialerdError):
    """The caller asked for something that cannot be done; nothing was changed."""


class NotFoundError(UsageError):
    """A named object (campaign, contact, list, agent) does not exist."""


class ConflictError(UsageError):
    """The request conflicts with the current state (a name taken, a campaign running)."""


class ConfigError(UsageError):
    """The configuration file is invalid; the message names the key."""


class RemoteProtocolError(DialerdError):
    """A peer sent data that violates the protocol we speak with it."""


class LinkLost(DialerdError):  # noqa: N818 - reads as a fact, like asyncio's CancelledError
    """The connection carrying an action died before the action completed."""


class ActionTimeout(DialerdError):  # noqa: N818 - reads as a fact
    """An action got no complete answer within its deadline."""


class ActionRejected(DialerdError):  # noqa: N818 - reads as a fact
    """Asterisk answered an action with ``Response: Error`` (the message says why)."""


class LoginRefused(ConfigError):  # noqa: N818 - reads as a fact
    """The AMI server refused our username or secret: the configuration is wrong."""


class NoServerAvailable(DialerdError):  # noqa: N818 - reads as a fact
    """No Asterisk server is up with room for another call; nothing was sent."""
