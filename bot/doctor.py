"""``storyboard-bot doctor``: a short checklist of what works and what to fix."""

from __future__ import annotations

from typing import TextIO

import aiohttp

from bot.config import ConfigError, Settings
from bot.kie import KieClient, KieError, KieUnreachable
from bot.migrations import LATEST
from bot.models import ModelRegistry
from bot.models.sora import NAME as SORA
from bot.store import Store

OK, WARN, FAIL = "ok", "warn", "FAIL"


class Report:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.failed = False

    def line(self, status: str, what: str, detail: str = "") -> None:
        if status == FAIL:
            self.failed = True
        mark = {OK: "[ok]  ", WARN: "[warn]", FAIL: "[FAIL]"}[status]
        print(f"{mark} {what}" + (f": {detail}" if detail else ""), file=self.out)


async def run_checks(settings: Settings, out: TextIO) -> int:
    r = Report(out)
    r.line(OK, "configuration", "loaded")
    await _models(settings, r)
    await _kie(settings, r)
    await _database(settings, r)
    await _discord(settings, r)
    if settings.callbacks_enabled:
        r.line(OK, "callbacks", f"kie.ai will call {settings.http.public_url}/kie/callback/...")
    else:
        r.line(WARN, "callbacks", "STORYBOARD_PUBLIC_URL is not set; the bot polls kie.ai")
    return 1 if r.failed else 0


async def _models(settings: Settings, r: Report) -> None:
    try:
        models = ModelRegistry(settings)
    except ConfigError as exc:
        r.line(FAIL, "models", str(exc))
        return
    r.line(OK, "primary model", models.primary.describe())
    if models.fallback is not None:
        r.line(OK, "fallback model", models.fallback.describe())
    else:
        r.line(WARN, "fallback model", "none (KIE_FALLBACK_MODEL is empty)")
    if SORA in {m.name for m in models.all()}:
        r.line(
            WARN,
            SORA,
            'OpenAI shut the Sora 2 API down on 2026-09-24; kie.ai answers "temporarily '
            'paused", so jobs go to the fallback model',
        )


async def _kie(settings: Settings, r: Report) -> None:
    if settings.kie.api_key is None:
        r.line(FAIL, "kie.ai key", "KIE_API_KEY is not set (get one at https://kie.ai/api-key)")
        return
    settings = settings.model_copy(
        update={"kie": settings.kie.model_copy(update={"max_retries": 1, "request_timeout": 15})}
    )
    async with KieClient(settings.kie) as client:
        try:
            credits = await client.credits()
        except KieError as exc:
            r.line(FAIL, "kie.ai key", exc.meaning)
            return
        except KieUnreachable as exc:
            r.line(FAIL, "kie.ai", f"unreachable at {settings.kie.base_url} ({exc})")
            return
    r.line(OK, "kie.ai key", f"{credits:g} credits left")


async def _database(settings: Settings, r: Report) -> None:
    try:
        store = await Store.open(settings.storage.db)
    except Exception as exc:
        r.line(FAIL, "database", f"{settings.storage.db}: {exc}")
        return
    try:
        jobs = await store.recent_jobs(1000)
        active = sum(1 for j in jobs if j.active)
        r.line(OK, "database", f"{settings.storage.db} (schema v{LATEST}, {active} jobs running)")
    finally:
        await store.close()


async def _discord(settings: Settings, r: Report) -> None:
    if settings.discord.token is None:
        r.line(FAIL, "Discord token", "DISCORD_TOKEN is not set (Developer Portal > Bot > Token)")
        return
    url = f"{str(settings.discord.api_base).rstrip('/')}/users/@me"
    headers = {"Authorization": f"Bot {settings.discord.token.get_secret_value()}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session,
            session.get(url, headers=headers) as resp,
        ):
            if resp.status == 401:
                r.line(
                    FAIL, "Discord token", "Discord refused it; reset it in the Developer Portal"
                )
                return
            if resp.status != 200:
                r.line(FAIL, "Discord token", f"Discord answered HTTP {resp.status}")
                return
            me = await resp.json()
    except (aiohttp.ClientError, TimeoutError) as exc:
        r.line(FAIL, "Discord", f"unreachable ({type(exc).__name__})")
        return
    r.line(OK, "Discord token", f"logs in as {me.get('username', '?')} (id {me.get('id', '?')})")
