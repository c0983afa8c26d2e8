"""The persistent components: every custom_id routes to exactly one item."""

from __future__ import annotations

from cogs.utils.views import ACTIONS, ActionButton, ShotSelect


def test_every_action_and_only_the_actions_match_the_button_template():
    pattern = ActionButton.__discord_ui_compiled_template__
    for action in ACTIONS:
        assert pattern.fullmatch(f"sb:{action}:abc123")
    # The shot menu's ids are not buttons (no "unknown action" when it is used).
    assert not pattern.fullmatch("sb:shot:abc123")
    assert ShotSelect.__discord_ui_compiled_template__.fullmatch("sb:shot:abc123")
