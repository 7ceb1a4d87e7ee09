"""The daemon's life cycle: ordered start, one TaskGroup, bounded drain on SIGTERM.

Start: open the store (migrating it), recover what a previous run left in flight, log in to
the AMI servers (at least one must come up), then start dialling and tell systemd we are
ready. Stop (SIGTERM or SIGINT): place no new calls, let calls in progress finish within
``engine.drain_timeout_s``, then cancel every task and exit 0. A second signal exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys

import structlog

from dialerd.adapters.ami_pool import AmiPool
from dialerd.adapters.sqlite_store import SqliteStore
from dialerd.config import Config
from dialerd.errors import DialerdError, UsageError
from dialerd.service import Service

log = structlog.get_logger("dialerd.app")


def notify(message: str) -> None:
    """Send a state line to systemd's notify socket, if we run under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(address)
        sock.sendall(message.encode())


async def run(config: Config, *, stop: asyncio.Event | None = None) -> int:
    """Run the daemon until ``stop`` is set or a signal arrives; returns the exit code."""
    if not config.ami.servers:
        raise UsageError("ami.servers: configure at least one Asterisk server to dial through")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals > 1:
            log.warning("forced_exit")
            os._exit(1)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)

    store = await SqliteStore.open(config.store.path, busy_timeout_ms=config.store.busy_timeout_ms)
    pool = AmiPool(
        [
            (server, server.secret.load(f"ami.servers[{i}].secret"))
            for i, server in enumerate(config.ami.servers)
        ]
    )
    service = Service(config, store, pool)
    try:
        await service.recover()
        pool.start()
        await pool.wait_any_up(config.engine.startup_timeout_s)
        async with asyncio.TaskGroup() as tg:
            events = tg.create_task(service.consume(pool.events()), name="ami-events")
            timers = tg.create_task(service.timers(), name="engine-timers")
            started = await service.start_campaigns()
            notify("READY=1")
            log.info("ready", campaigns=started, node=config.node_name)
            await stop.wait()
            notify("STOPPING=1")
            log.info("draining", calls_in_flight=service.dialer.in_flight())
            await service.stop_dialling()
            try:
                async with asyncio.timeout(config.engine.drain_timeout_s):
                    await service.idle.wait()
            except TimeoutError:
                log.warning("drain_timeout", calls_in_flight=service.dialer.in_flight())
            log.info("drained", calls_in_flight=service.dialer.in_flight())
            events.cancel()
            timers.cancel()
    finally:
        log.info("closing")
        await pool.close()
        await store.close()
    log.info("stopped")
    return 0


def main(config: Config) -> int:
    """Entry point of ``dialerd run``."""
    try:
        return asyncio.run(run(config))
    except (DialerdError, ExceptionGroup) as exc:
        errors = list(exc.exceptions) if isinstance(exc, ExceptionGroup) else [exc]
        if not all(isinstance(e, DialerdError) for e in errors):
            raise
        for error in errors:
            print(f"dialerd: error: {error}", file=sys.stderr)
        return 1
