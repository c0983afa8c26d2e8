"""What the bot is doing, in Prometheus' text format (``GET /metrics`` when ``[http] metrics``).

Counters are kept per process in their own registry (never the library's global one, so two
runtimes in one process do not mix); the gauges that describe stored state (jobs by state,
credits reserved and charged, the queue) are read from the database at each scrape, so they
are true after a restart too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.jobs.states import JobState
from bot.jobs.store import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Stored(Collector):
    """Gauges read from the database at scrape time."""

    def __init__(self) -> None:
        self.snapshot: dict[str, list[tuple[tuple[str, ...], float]]] = {}

    def collect(self):  # type: ignore[no-untyped-def]
        helps = {
            "storyboard_jobs": ("Jobs by state", ["state"]),
            "storyboard_queue_depth": ("Jobs waiting to be sent to kie.ai", []),
            "storyboard_credits": ("Credits of quota reservations, by state", ["state"]),
        }
        for name, (doc, labels) in helps.items():
            family = GaugeMetricFamily(name, doc, labels=labels)
            for values, value in self.snapshot.get(name, []):
                family.add_metric(list(values), value)
            yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.kie_calls = Counter(
            "storyboard_kie_requests",
            "Requests to kie.ai, by endpoint and answer code (0: no answer)",
            ["endpoint", "code"],
            registry=self.registry,
        )
        self.delivery_seconds = Histogram(
            "storyboard_delivery_seconds",
            "From kie.ai finishing a video to it being delivered",
            buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
            registry=self.registry,
        )
        self.loop_lag = Gauge(
            "storyboard_event_loop_lag_seconds",
            "How late a callback scheduled now runs on the event loop (at the last scrape)",
            registry=self.registry,
        )
        self._stored = _Stored()
        self.registry.register(self._stored)

    # -- what the client and the engine report ----------------------------------------------
    def kie_call(self, endpoint: str, code: int) -> None:
        self.kie_calls.labels(endpoint=endpoint, code=str(code)).inc()

    def delivered(self, seconds: float) -> None:
        self.delivery_seconds.observe(max(0.0, seconds))

    # -- a scrape ----------------------------------------------------------------------------
    async def render(self, store: Store) -> bytes:
        self.loop_lag.set(await loop_lag())
        snap: dict[str, list[tuple[tuple[str, ...], float]]] = {}
        async with store.db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state") as cur:
            counts = {str(r[0]): float(r[1]) for r in await cur.fetchall()}
        snap["storyboard_jobs"] = [((str(s),), counts.get(str(s), 0.0)) for s in JobState]
        snap["storyboard_queue_depth"] = [((), counts.get(str(JobState.QUEUED), 0.0))]
        async with store.db.execute(
            "SELECT state, COALESCE(SUM(credits), 0) FROM usage GROUP BY state"
        ) as cur:
            credits = {str(r[0]): float(r[1]) for r in await cur.fetchall()}
        snap["storyboard_credits"] = [
            ((state,), credits.get(state, 0.0)) for state in ("reserved", "charged", "released")
        ]
        self._stored.snapshot = snap
        return generate_latest(self.registry)


async def loop_lag(clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds between asking the event loop to run something now and it running."""
    loop = asyncio.get_running_loop()
    ran: asyncio.Future[float] = loop.create_future()
    start = clock()

    def mark() -> None:
        if not ran.done():
            ran.set_result(clock())

    loop.call_soon(mark)
    return await ran - start


__all__ = ["CONTENT_TYPE", "Metrics", "loop_lag"]
