"""Stopping on SIGTERM as on Ctrl-C: both cancel the running command, which then takes its
graceful path (stop taking new jobs, wait for a createTask already sent and record its answer,
close the store). ``systemctl stop`` and ``docker stop`` send SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class Stop:
    """Which signal asked the command to stop (None: none did)."""

    signal: signal.Signals | None = None

    @property
    def exit_code(self) -> int:
        """128 + the signal's number, as shells report it (130 for Ctrl-C, 143 for SIGTERM)."""
        return 128 + int(self.signal) if self.signal is not None else 1


@contextlib.contextmanager
def stop_on_signals() -> Iterator[Stop]:
    """While inside, SIGTERM and SIGINT cancel the current task once; ``Stop`` says which."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    stop = Stop()

    def handle(sig: signal.Signals) -> None:
        if stop.signal is None and task is not None:
            stop.signal = sig
            task.cancel()

    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, handle, sig)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
            continue
        installed.append(sig)
    try:
        yield stop
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


__all__ = ["Stop", "stop_on_signals"]
