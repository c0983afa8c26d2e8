"""Watching the kie.ai credit balance: warn once when it falls under the configured level."""

from __future__ import annotations

import logging

from bot.db.connection import Database
from bot.kie import KieApi, KieError, KieUnreachable

log = logging.getLogger(__name__)

WARNED_KEY = "balance.warned"


async def check_balance(kie: KieApi, store: Database, threshold: int | None) -> float | None:
    """Read the balance; return it when it has just fallen under ``threshold`` (warn then).

    The warning is given once: it is re-armed when the balance is back at or over the level.
    """
    if not threshold:
        return None
    try:
        balance = await kie.credits()
    except (KieError, KieUnreachable) as exc:
        log.warning("could not read the kie.ai credit balance: %s", exc)
        return None
    warned = await store.get_meta(WARNED_KEY) == "1"
    if balance >= threshold:
        if warned:
            await store.set_meta(WARNED_KEY, "0")
        return None
    if warned:
        return None
    await store.set_meta(WARNED_KEY, "1")
    log.warning(
        "the kie.ai credit balance is %s, under the warning level of %s", balance, threshold
    )
    return balance
