"""Wiring the core together: store, kie.ai client, models, tracker and web server.

The command line and the Discord bot both build one Runtime; only the delivery differs. The
runtime owns what it opened (the store, the kie.ai client it made) and closes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.config.settings import Settings
from bot.domain.clock import Clock
from bot.jobs.delivery import Delivery
from bot.jobs.store import Store
from bot.jobs.tracker import Tracker
from bot.kie import KieApi, KieClient
from bot.models import ModelRegistry
from bot.quota.policy import Quotas
from bot.web.metrics import Metrics
from bot.web.server import CHECKS_KEY, WebServer, make_app


class Closable(Protocol):
    """What the runtime opened and closes: the store, the kie.ai client it made."""

    async def close(self) -> None: ...


@dataclass
class Runtime:
    settings: Settings
    store: Store
    kie: KieApi
    models: ModelRegistry
    tracker: Tracker
    web: WebServer | None = None
    quotas: Quotas | None = None
    _closers: list[Closable] = field(default_factory=list)

    @classmethod
    async def build(
        cls,
        settings: Settings,
        delivery: Delivery,
        *,
        kie: KieApi | None = None,
        clock: Clock | None = None,
        origin: str | None = None,
        only: set[str] | None = None,
        serve_http: bool = False,
        unreachable_give_up: float | None = None,
    ) -> Runtime:
        """``unreachable_give_up``: how long a job keeps trying a kie.ai host it cannot
        connect to (the command line's bound); None: until the job's deadline.

        ``kie``: a client to use instead of one made from ``settings.kie``; the caller keeps
        it (close() does not close it)."""
        # Every check of the settings before anything is opened: a refused start leaves
        # nothing behind (not even an empty database).
        models = ModelRegistry(settings)  # raises ConfigError for an unknown model name
        if kie is None:
            settings.require("kie.api_key")
        store = await Store.open(settings.storage.db)
        owned: list[Closable] = [store]
        try:
            return cls._wire(
                settings,
                delivery,
                store,
                models,
                owned,
                kie=kie,
                clock=clock,
                origin=origin,
                only=only,
                serve_http=serve_http,
                unreachable_give_up=unreachable_give_up,
            )
        except BaseException:
            for obj in reversed(owned):
                await obj.close()
            raise

    @classmethod
    def _wire(
        cls,
        settings: Settings,
        delivery: Delivery,
        store: Store,
        models: ModelRegistry,
        owned: list[Closable],
        *,
        kie: KieApi | None,
        clock: Clock | None,
        origin: str | None,
        only: set[str] | None,
        serve_http: bool,
        unreachable_give_up: float | None,
    ) -> Runtime:
        client = kie
        if client is None:
            real = KieClient(settings.kie)
            owned.append(real)
            client = real
        quotas = Quotas(store, settings.quota)
        tracker = Tracker(
            store=store,
            kie=client,
            models=models,
            delivery=delivery,
            settings=settings,
            clock=clock,
            origin=origin,
            only=only,
            ledger=quotas,
            unreachable_give_up=unreachable_give_up,
            chain_limits=settings.storyboards,
        )
        metrics = Metrics() if settings.http.metrics else None
        if metrics is not None:
            if isinstance(client, KieClient):
                client.observer = metrics.kie_call
            tracker.ctx.on_delivered = metrics.delivered
        web = None
        if serve_http:
            hmac_key = settings.kie.webhook_hmac_key
            app = make_app(
                tracker,
                hmac_key=hmac_key.get_secret_value() if hmac_key else None,
                max_body=settings.http.max_callback_bytes,
                metrics_registry=metrics,
            )
            if isinstance(client, KieClient):
                app[CHECKS_KEY]["kie"] = _kie_check(client)
            web = WebServer(app, settings.http.host, settings.http.port)
        return cls(settings, store, client, models, tracker, web, quotas, owned)

    async def start(self) -> None:
        if self.web is not None:
            await self.web.start()
        await self.tracker.resume()
        self.tracker.start()

    async def close(self) -> None:
        """Stop everything; safe to call twice."""
        await self.tracker.stop()
        if self.web is not None:
            await self.web.stop()
        closers, self._closers = self._closers, []
        for obj in reversed(closers):
            await obj.close()


def _kie_check(client: KieClient) -> Callable[[], tuple[bool, str]]:
    """kie.ai as last seen: reachable at the last request, or not (no request made: ok)."""

    def check() -> tuple[bool, str]:
        if client.last_contact is None:
            return True, "no request yet"
        when, reachable = client.last_contact
        ago = f"{time.time() - when:.0f} s ago"
        if reachable:
            return True, f"answered {ago}"
        return False, f"could not be reached {ago}"

    return check
