from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config.settings import Settings
from bot.drafts.store import Drafts
from bot.jobs.store import Store
from bot.kie import KieClient, RateLimits
from bot.media.images import prepare_image
from bot.models.sora import SoraStoryboard
from bot.runtime import Runtime
from tests.fakes.fakekie import FakeKie
from tests.helpers import RecordingDelivery, TestClock, make_settings, png_bytes

# The suite starts the bot as a subprocess about a hundred times (the CLI, the crash matrix):
# where the machine disables bytecode files, each of them would compile the bot again.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


@pytest.fixture
def clock() -> TestClock:
    return TestClock()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A real SQLite store, migrated, in a temp dir."""
    s = await Store.open(tmp_path / "store.db")
    yield s
    await s.close()


@pytest.fixture
def drafts(store: Store, clock: TestClock) -> Drafts:
    return Drafts(store, clock)


@pytest.fixture
async def fake(clock: TestClock) -> AsyncIterator[FakeKie]:
    async with FakeKie(clock=clock, auto_callbacks=False) as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, fake: FakeKie) -> Settings:
    return make_settings(tmp_path, fake.url)


@pytest.fixture
async def kie(settings: Settings) -> AsyncIterator[KieClient]:
    async with KieClient(settings.kie, limits=RateLimits()) as client:
        yield client


@pytest.fixture
def image():
    return prepare_image(png_bytes(), SoraStoryboard.image_spec)


RuntimeFactory = Callable[..., Awaitable[tuple[Runtime, RecordingDelivery]]]


@pytest.fixture
async def make_runtime(clock: TestClock) -> AsyncIterator[RuntimeFactory]:
    """Build a Runtime (store, kie client against the fake, tracker), recording deliveries."""
    built: list[Runtime] = []

    async def factory(
        settings: Settings, delivery: RecordingDelivery | None = None, **kw: Any
    ) -> tuple[Runtime, RecordingDelivery]:
        delivery = delivery or RecordingDelivery()
        kie = KieClient(settings.kie, limits=RateLimits())
        rt = await Runtime.build(settings, delivery, kie=kie, clock=clock, **kw)
        rt._closers.append(kie)
        built.append(rt)
        return rt, delivery

    yield factory
    for rt in built:
        await rt.close()
