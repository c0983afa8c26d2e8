"""SIGTERM takes the same graceful path as Ctrl-C: the command is cancelled, runs its own
cleanup, and exits with the code its kind of command gives (`run` 0, `render` 143)."""

from __future__ import annotations

import asyncio
import os
import signal

from bot.app.cli import EXIT_OK, _until_stopped


async def _a_command_that_cleans_up(cleaned: list[str]) -> int:
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        await asyncio.sleep(0.05)  # e.g. waiting for a createTask's answer
        cleaned.append("closed")
        raise
    return 99


async def test_sigterm_stops_run_gracefully_with_exit_0():
    cleaned: list[str] = []
    loop = asyncio.get_running_loop()
    loop.call_later(0.1, os.kill, os.getpid(), signal.SIGTERM)
    code = await _until_stopped(
        lambda: _a_command_that_cleans_up(cleaned), stopped=lambda _: EXIT_OK
    )
    assert code == 0 and cleaned == ["closed"]


async def test_sigterm_and_sigint_stop_render_with_the_shells_codes():
    for sig, expected in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):
        cleaned: list[str] = []
        asyncio.get_running_loop().call_later(0.1, os.kill, os.getpid(), sig)
        assert await _until_stopped(lambda c=cleaned: _a_command_that_cleans_up(c)) == expected
        assert cleaned == ["closed"]
