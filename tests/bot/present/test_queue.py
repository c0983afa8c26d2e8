"""Which queued statuses are redrawn as the queue moves: front first, never two statuses
showing the same place, within each message's and each channel's edit budget."""

from __future__ import annotations

from bot.jobs.queue import QueueSpot
from bot.present.queue import QueueBoard, Waiting


def line(*ids: str, channel: int = 1) -> list[Waiting]:
    return [
        Waiting(job_id, channel, QueueSpot(position=n, starts_at=0.0, length=len(ids)))
        for n, job_id in enumerate(ids, 1)
    ]


def test_every_new_place_is_drawn_front_first():
    board = QueueBoard(interval=5.0, per_channel=10)
    picks, stale = board.redraws(line("a", "b", "c"), {}, 100.0)
    assert [(w.job_id, w.spot.position) for w in picks] == [("a", 1), ("b", 2), ("c", 3)]
    assert not stale


def test_an_unchanged_place_is_not_redrawn():
    board = QueueBoard()
    for w in line("a", "b"):
        board.drawn(w.job_id, w.spot.position)
    assert board.redraws(line("a", "b"), {}, 100.0) == ([], False)


def test_a_status_edited_lately_holds_the_ones_behind_it_at_their_places():
    board = QueueBoard(interval=5.0, per_channel=10)
    board.drawn("b", 2)
    board.drawn("c", 3)
    board.drawn("d", 4)
    # a was sent: b is now 1st, c 2nd, d 3rd; but b was edited 1 s ago.
    picks, stale = board.redraws(line("b", "c", "d"), {"b": 99.0}, 100.0)
    # c may not show 2 while b still shows 2, nor d 3 while c still shows 3.
    assert picks == [] and stale
    picks, _ = board.redraws(line("b", "c", "d"), {"b": 99.0}, 105.0)
    assert [(w.job_id, w.spot.position) for w in picks] == [("b", 1), ("c", 2), ("d", 3)]


def test_a_channel_gets_a_bounded_number_of_place_edits():
    board = QueueBoard(interval=5.0, per_channel=3)
    ids = [f"j{n}" for n in range(10)]
    picks, stale = board.redraws(line(*ids), {}, 100.0)
    assert [w.job_id for w in picks] == ids[:3] and stale
    for w in picks:
        board.drawn(w.job_id, w.spot.position)
    assert board.redraws(line(*ids), {}, 102.0)[0] == []  # the channel's budget is spent
    assert [w.job_id for w in board.redraws(line(*ids), {}, 105.0)[0]] == ids[3:6]
    # Another channel has its own budget.
    other = board.redraws(line("x", channel=2), {}, 102.0)[0]
    assert [w.job_id for w in other] == ["x"]
