"""bot.quota.ledger: the release policy, settling part of a long storyboard, retried presses."""

from __future__ import annotations

import pytest

from bot.quota.policy import Quotas
from tests.bot.quota.shared import ALICE, BOB, GUILD, NOON, count_rows, refused, reserve, usage_row


@pytest.mark.parametrize("outcome", ["refused", "cancelled"])
async def test_never_reached_kie_is_released(quotas: Quotas, outcome: str) -> None:
    await quotas.set(GUILD, "user_daily", "1", actor_id=ALICE)
    await quotas.set(GUILD, "user_concurrent", "1", actor_id=ALICE)
    await quotas.set(GUILD, "user_cooldown_seconds", "60", actor_id=ALICE)
    job = await reserve(quotas, now=NOON)
    assert await quotas.settle(job, outcome=outcome) == "released"  # type: ignore[arg-type]
    # Counts for nothing: not the day, not the slot, not the cooldown.
    await reserve(quotas, now=NOON + 1)


@pytest.mark.parametrize(("failed_counts", "state"), [(False, "released"), (True, "charged")])
async def test_failed_counts_only_when_set(quotas: Quotas, failed_counts: bool, state: str) -> None:
    await quotas.set(GUILD, "user_daily", "1", actor_id=ALICE)
    await quotas.set(GUILD, "failed_counts", str(failed_counts), actor_id=ALICE)
    job = await reserve(quotas)
    assert await quotas.settle(job, outcome="failed") == state
    if failed_counts:
        await refused(quotas, "user_daily")
    else:
        await reserve(quotas)


async def test_delivered_is_charged_and_frees_the_slot(quotas: Quotas) -> None:
    await quotas.set(GUILD, "user_daily", "2", actor_id=ALICE)
    await quotas.set(GUILD, "user_concurrent", "1", actor_id=ALICE)
    job = await reserve(quotas)
    await refused(quotas, "user_concurrent")
    assert await quotas.settle(job, outcome="delivered") == "charged"
    await reserve(quotas)
    await refused(quotas, "user_daily")
    # Settling again changes nothing.
    assert await quotas.settle(job, outcome="refused") == "charged"


async def test_unknown_keeps_the_slot_until_resolved(quotas: Quotas) -> None:
    await quotas.set(GUILD, "user_concurrent", "1", actor_id=ALICE)
    job = await reserve(quotas)
    assert await quotas.settle(job, outcome="unknown") == "reserved"
    err = await refused(quotas, "user_concurrent")
    assert err.params["running"] == 1
    assert await quotas.settle(job, outcome="refused") == "released"
    await reserve(quotas)


async def test_settle_edge_cases(quotas: Quotas) -> None:
    assert await quotas.settle("nope", outcome="delivered") is None
    with pytest.raises(ValueError, match="outcome"):
        await quotas.settle("nope", outcome="exploded")  # type: ignore[arg-type]


async def test_reserving_the_same_job_twice_is_one_reservation(quotas: Quotas) -> None:
    await quotas.set(GUILD, "user_concurrent", "1", actor_id=ALICE)
    await reserve(quotas, job_id="same")
    await reserve(quotas, job_id="same")
    assert await count_rows(quotas.store) == 1
    await quotas.settle("same", outcome="cancelled")
    await reserve(quotas, job_id="same")  # released: reserved afresh
    assert await quotas.usage_state("same") == "reserved"


# -- a long storyboard that ended part way ------------------------------------------------------


async def test_a_chain_that_failed_part_way_is_charged_for_the_segments_made(
    quotas: Quotas,
) -> None:
    await quotas.set(GUILD, "guild_monthly_credits", "1000", actor_id=ALICE)
    job = await reserve(quotas, credits=810)  # three segments of 270
    state = await quotas.settle_part(job, made=540, last=270, last_outcome="failed", now=NOON)
    assert state == "charged"
    assert await usage_row(quotas.store, job) == ("sora-2-pro-storyboard", 540, "charged", "failed")
    assert (await quotas.usage(GUILD, BOB, NOON)).guild_credits_left == 460
    # Settled once: a second settlement changes nothing.
    assert await quotas.settle(job, outcome="delivered") == "charged"
    assert (await usage_row(quotas.store, job))[1] == 540


async def test_a_failed_segment_counts_when_the_guild_counts_failures(quotas: Quotas) -> None:
    await quotas.set(GUILD, "failed_counts", "true", actor_id=ALICE)
    job = await reserve(quotas, credits=810)
    assert await quotas.settle_part(job, made=270, last=270, last_outcome="failed") == "charged"
    assert (await usage_row(quotas.store, job))[1:3] == (540, "charged")


async def test_a_segment_with_an_unknown_outcome_counts(quotas: Quotas) -> None:
    job = await reserve(quotas, credits=810)
    assert await quotas.settle_part(job, made=270, last=270, last_outcome="unknown") == "charged"
    assert (await usage_row(quotas.store, job))[1:] == (540, "charged", "unknown")


async def test_a_chain_refused_at_its_first_segment_is_released(quotas: Quotas) -> None:
    await quotas.set(GUILD, "user_daily", "1", actor_id=ALICE)
    job = await reserve(quotas, credits=810)
    assert await quotas.settle_part(job, made=0, last=270, last_outcome="refused") == "released"
    # It keeps the price it was made at, and counts nowhere: the member may generate again.
    assert (await usage_row(quotas.store, job))[1:] == (810, "released", "refused")
    await reserve(quotas)


async def test_settle_part_edge_cases(quotas: Quotas) -> None:
    assert await quotas.settle_part("nope", made=1, last=1, last_outcome="failed") is None
    with pytest.raises(ValueError, match="outcome"):
        await quotas.settle_part("nope", made=1, last=1, last_outcome="exploded")  # type: ignore[arg-type]
