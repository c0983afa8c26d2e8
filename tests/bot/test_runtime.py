"""bot.runtime: the Runtime builds the store, the kie.ai client, the tracker and the web server
from the settings, against the fake kie.ai and a temporary SQLite database, and closes them;
a start the settings refuse leaves nothing behind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import bot.kie.client as kie_client
import bot.runtime as runtime_module
from bot.config.settings import ConfigError, Settings
from bot.jobs.store import Store
from bot.kie import KieClient, RateLimits
from bot.runtime import Runtime
from bot.web.server import HMAC_KEY
from tests.fakes.fakekie import FakeKie
from tests.helpers import RecordingDelivery, TestClock, make_settings

HMAC = "webhook-hmac-key-for-the-tests"


@pytest.fixture(autouse=True)
def fresh_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client the runtime makes takes the process-wide limiter; one per test (per loop)."""
    monkeypatch.setattr(kie_client, "_shared_limits", {})


def _settings(tmp_path: Path, fake: FakeKie, **sections: dict[str, Any]) -> Settings:
    http = {"host": "127.0.0.1", "port": 0, **sections.pop("http", {})}
    return make_settings(tmp_path, fake.url, http=http, **sections)


@pytest.fixture
async def built() -> AsyncIterator[list[Runtime]]:
    """Runtimes a test built, closed at the end even when the test failed."""
    runtimes: list[Runtime] = []
    yield runtimes
    for rt in runtimes:
        await rt.close()


async def _build(built: list[Runtime], settings: Settings, **kw: Any) -> Runtime:
    rt = await Runtime.build(settings, RecordingDelivery(), **kw)
    built.append(rt)
    return rt


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.text()


def _session_closed(client: KieClient) -> bool:
    session = client._session
    return session is None or session.closed


async def test_builds_what_the_settings_say_and_serves_it(tmp_path, fake, clock, built):
    settings = _settings(
        tmp_path,
        fake,
        http={"metrics": True},
        kie={"webhook_hmac_key": HMAC, "fallback_model": "kling-3.0-omni/image-to-video"},
    )
    rt = await _build(
        built, settings, clock=clock, origin="cli", serve_http=True, unreachable_give_up=45.0
    )
    # The store: the configured database, created and migrated.
    assert Path(settings.storage.db).is_file()
    assert rt.store is rt.tracker.store
    # The kie.ai client: the configured host and key (the fake checks the key).
    assert isinstance(rt.kie, KieClient)
    assert await rt.kie.credits() == 1000
    assert fake.calls["credit"] == 1
    # The models and the tracker.
    assert rt.models.primary.name == settings.kie.model
    assert rt.models.fallback is not None
    assert rt.models.fallback.name == "kling-3.0-omni/image-to-video"
    assert rt.tracker.settings is settings
    assert rt.tracker.ctx.unreachable_give_up == 45.0
    assert rt.quotas is not None
    # The web server: the configured host, the callbacks' key, /healthz and /metrics.
    assert rt.web is not None and rt.web.host == "127.0.0.1"
    assert rt.web.app[HMAC_KEY] == HMAC
    await rt.start()
    base = f"http://127.0.0.1:{rt.web.port}"
    status, body = await _get(f"{base}/healthz")
    assert status == 200
    assert '"database": {"ok": true' in body and '"kie": {"ok": true, "detail": "answered' in body
    status, body = await _get(f"{base}/metrics")
    assert status == 200 and "storyboard_" in body


async def test_the_long_storyboard_limits_reach_the_chain_engine(tmp_path, fake, clock, built):
    from bot.domain.storyboard import Shot, Storyboard, StoryboardError

    settings = _settings(tmp_path, fake, storyboards={"max_seconds": 80, "max_shots": 25})
    rt = await _build(built, settings, clock=clock)
    assert (rt.tracker.chains.max_seconds, rt.tracker.chains.max_shots) == (80, 25)
    # 70 s: over the default 60, within this install's 80 (five Kling segments of 14 s).
    board = Storyboard(
        shots=tuple(Shot(scene=f"shot {i}", tenths=35) for i in range(20)), length=70
    )
    plan = rt.tracker.plan(board, "kling-3.0-omni/image-to-video")
    assert plan.count == 5 and plan.total_tenths == 700
    defaults = await _build(built, _settings(tmp_path / "d", fake), clock=clock)
    with pytest.raises(StoryboardError) as refused:
        defaults.tracker.plan(board, "kling-3.0-omni/image-to-video")
    assert refused.value.code == "long_total" and refused.value.params["max"] == 60


async def test_close_stops_and_closes_everything_and_may_be_called_twice(
    tmp_path, fake, clock, built
):
    rt = await _build(built, _settings(tmp_path, fake), clock=clock, serve_http=True)
    await rt.start()
    assert rt.web is not None
    port = rt.web.port
    assert (await _get(f"http://127.0.0.1:{port}/healthz"))[0] == 200
    assert rt.tracker.scheduler.running
    assert isinstance(rt.kie, KieClient)
    await rt.kie.credits()  # opens the client's HTTP session

    await rt.close()
    assert not rt.tracker.scheduler.running
    with pytest.raises(aiohttp.ClientConnectionError):
        await _get(f"http://127.0.0.1:{port}/healthz")
    with pytest.raises(ValueError):  # aiosqlite: no active connection
        await rt.store.get_meta("x")
    assert _session_closed(rt.kie)
    await rt.close()


async def test_without_callbacks_there_is_no_web_server_nor_metrics(tmp_path, fake, clock, built):
    rt = await _build(built, _settings(tmp_path, fake), clock=clock)
    assert rt.web is None
    await rt.start()
    await rt.close()


async def test_metrics_are_off_unless_asked_for(tmp_path, fake, clock, built):
    rt = await _build(built, _settings(tmp_path, fake), clock=clock, serve_http=True)
    await rt.start()
    assert rt.web is not None
    assert (await _get(f"http://127.0.0.1:{rt.web.port}/metrics"))[0] == 404


async def test_a_client_given_to_it_is_used_and_left_open(tmp_path, fake, clock, built):
    settings = _settings(tmp_path, fake)
    async with KieClient(settings.kie, limits=RateLimits()) as client:
        rt = await _build(built, settings, kie=client, clock=clock)
        assert rt.kie is client and rt.tracker.ctx.kie is client
        await rt.start()
        await rt.close()
        assert await client.credits() == 1000  # still usable: the caller closes it
        assert fake.calls["credit"] == 1


async def test_a_missing_key_is_refused_before_anything_is_opened(tmp_path, fake):
    settings = _settings(tmp_path, fake, kie={"api_key": None})
    with pytest.raises(ConfigError) as refused:
        await Runtime.build(settings, RecordingDelivery())
    assert str(refused.value) == "KIE_API_KEY (kie.api_key) is not set"
    assert not Path(settings.storage.db).exists()


async def test_an_unknown_model_is_refused_before_anything_is_opened(tmp_path, fake):
    settings = _settings(tmp_path, fake, kie={"model": "no-such-model"})
    with pytest.raises(ConfigError, match="no-such-model"):
        await Runtime.build(settings, RecordingDelivery())
    assert not Path(settings.storage.db).exists()


async def test_a_failure_while_wiring_closes_the_store(tmp_path, fake, monkeypatch):
    closed: list[Store] = []
    real_close = Store.close

    async def recording_close(self: Store) -> None:
        closed.append(self)
        await real_close(self)

    def broken_make_app(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("cannot build the web app")

    monkeypatch.setattr(Store, "close", recording_close)
    monkeypatch.setattr(runtime_module, "make_app", broken_make_app)
    settings = _settings(tmp_path, fake)
    with pytest.raises(RuntimeError, match="cannot build the web app"):
        await Runtime.build(settings, RecordingDelivery(), clock=TestClock(), serve_http=True)
    assert len(closed) == 1
