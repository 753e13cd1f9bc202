"""The simulated room's survey answers (pure)."""

from __future__ import annotations

from tubedemo.rehearsal.room_survey import ANSWER_WINDOW, room_answers


def test_the_room_answers_a_share_of_itself_in_talk_time_most_with_a_name() -> None:
    answers = room_answers(150, seed=1)
    assert len(answers) == 60
    assert [a.after for a in answers] == sorted(a.after for a in answers)
    assert all(0 <= a.after <= ANSWER_WINDOW and 1 <= a.rating <= 5 for a in answers)
    assert sum(a.name is not None for a in answers) > len(answers) / 2
    assert room_answers(150, seed=1) == answers
    assert room_answers(0) == []
