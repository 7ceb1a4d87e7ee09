"""Logging: structlog, JSON lines for journald, or readable lines on a terminal.

One event per line; context (call id, campaign) is bound with contextvars. Secrets never
reach a log: configuration objects keep them in ``Secret`` wrappers whose repr is masked.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}


def configure(
    level: str = "info", fmt: Literal["json", "console"] = "json", *, stream: object = None
) -> None:
    """Set up structlog for the daemon (call once, at start)."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.dict_tracebacks,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.ERROR)),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stdout),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
