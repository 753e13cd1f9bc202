"""state.State is deterministic: the same clock and random source give the same ids, times
and draws, through the rules alone and through the running gateway's HTTP API."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway import state as st
from gateway.store.local import LocalStore

START_NS = int(datetime(2026, 5, 14, 9, 30, tzinfo=UTC).timestamp() * 1e9)


class StepClock:
    """A wall clock that reads START_NS, then moves on one millisecond per read."""

    def __init__(self, start_ns: int = START_NS, step_ns: int = 1_000_000) -> None:
        self.now_ns, self.step_ns = start_ns, step_ns

    def __call__(self) -> int:
        now, self.now_ns = self.now_ns, self.now_ns + self.step_ns
        return now


def fixed(seed: int) -> st.Sources:
    return st.Sources(wall_ns=StepClock(), rng=random.Random(seed))


def a_talk(state: st.State) -> list[st.Record]:
    """Open a session, take three submissions (one resubmitted), a question, two draws."""
    records: list[st.Record] = []

    def keep(rec: st.Record) -> None:
        state.apply(rec)
        records.append(rec)

    for rec in state.open_session(None):
        keep(rec)
    for phone in ("phone-a", "phone-b", "phone-c", "phone-a"):
        keep(state.submission(phone, 4, "ACME", None)[0])
    keep(state.question("Which line is the deepest?"))
    for _ in range(2):
        _, rec = state.draw(1, None, redraw=True)
        assert rec is not None
        keep(rec)
    return records


def test_same_clock_and_seed_give_the_same_ids_times_and_draws() -> None:
    first, second = a_talk(st.State(fixed(7))), a_talk(st.State(fixed(7)))
    assert [r.to_json() for r in first] == [r.to_json() for r in second]


def test_another_seed_gives_other_ids_and_winners_at_the_same_times() -> None:
    first, second = a_talk(st.State(fixed(7))), a_talk(st.State(fixed(8)))
    assert first[0].key != second[0].key  # the session id's random suffix
    assert first[0].key[:16] == second[0].key[:16] == "20260514-093000-"
    ids = [r.data["id"] for r in first if r.kind == "submission"]
    assert ids != [r.data["id"] for r in second if r.kind == "submission"]
    assert [r.rev for r in first] == [r.rev for r in second]  # the clock alone sets revisions


def test_times_come_from_the_injected_clock() -> None:
    state = st.State(fixed(1))
    session, current = state.open_session("Tuesday")
    assert session.key.startswith("20260514-093000-")
    assert session.data["created_at"].startswith("2026-05-14T09:30:00.")
    assert current.rev > session.rev >= START_NS


def test_an_unseeded_draw_records_a_seed_that_repeats_it() -> None:
    state = st.State(fixed(3))
    for rec in state.open_session(None):
        state.apply(rec)
    for i in range(10):
        state.apply(state.submission(f"phone-{i}", 5, "ACME", None)[0])
    data, _ = state.draw(3, None, redraw=False)
    assert random.Random(data["seed"]).sample(data["eligible"], 3) == data["winners"]


def test_a_resubmit_keeps_its_id_and_creation_time() -> None:
    state = st.State(fixed(5))
    for rec in state.open_session(None):
        state.apply(rec)
    first, created = state.submission("phone-a", 2, "ACME", None)
    state.apply(first)
    again, created_again = state.submission("phone-a", 5, "Initech", "Ada")
    assert (created, created_again) == (True, False)
    assert again.data["id"] == first.data["id"]
    assert again.data["created_at"] == first.data["created_at"] < again.data["updated_at"]


def test_replaying_the_records_rebuilds_the_same_state() -> None:
    live = st.State(fixed(11))
    records = a_talk(live)
    replayed = st.State(fixed(99))
    replayed.replay(list(reversed(records)))
    assert replayed.current == live.current
    assert replayed.session() == live.session()


@pytest.mark.parametrize(
    ("company", "name", "message"),
    [
        ("   ", None, "company: say where you work"),
        ("x" * 81, None, "company: at most 80 characters"),
        ("ACME", "y" * 41, "name: at most 40 characters"),
    ],
)
def test_entry_rules_name_the_field(company: str, name: str | None, message: str) -> None:
    with pytest.raises(st.Invalid, match=message):
        st.clean_entry(company, name, name_max=40)


def test_entry_whitespace_is_collapsed() -> None:
    assert st.clean_entry("  Transport \n for  London ", " ", 40) == ("Transport for London", None)


def test_two_gateways_with_the_same_sources_answer_the_same(start_gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    answers = []
    for run in ("one", "two"):
        g = start_gateway(LocalStore(tmp_path / run), sources=fixed(42), mode="survey")
        session = g.http.get("/config").json()["session"]
        ids = [
            g.anonymous.post(
                "/api/survey/submit",
                json={"rating": 5, "company": "ACME"},
                headers=g.phone(f"phone-{i}"),
            ).json()["id"]
            for i in range(5)
        ]
        drawn = g.admin("POST", "/api/admin/draw", json={"count": 2}).json()
        answers.append((session, ids, drawn))
    assert answers[0] == answers[1]
    session, ids, drawn = answers[0]
    assert session.startswith("20260514-093000-")
    assert len(set(ids)) == 5
    assert {w["id"] for w in drawn["winners"]} <= set(ids)
