"""The quota under test: open defaults (every limit off), on the real store of a temp dir."""

from __future__ import annotations

import pytest

from bot.jobs.store import Store
from bot.quota.policy import Quotas
from tests.bot.quota.shared import OPEN


@pytest.fixture
def quotas(store: Store) -> Quotas:
    return Quotas(store, OPEN)
