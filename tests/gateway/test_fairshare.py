"""The stream gate: one stream per identity, a cap from the fleet, an address's share of the
room, and freed slots going round robin over addresses to the least-served identity first."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from gateway.errors import ApiError
from gateway.fairshare import EXPIRE_PER_CALL, LOAD_LANE, Presence, StreamGate, address_share


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_a_venue_nat_with_the_whole_room_behind_it_gets_every_slot() -> None:
    assert address_share(capacity=320, room=150, others=0, floor=32) == 320


def test_an_address_of_its_own_while_the_room_is_elsewhere_gets_the_floor() -> None:
    assert address_share(capacity=320, room=150, others=150, floor=32) == 32
    assert address_share(capacity=320, room=150, others=400, floor=32) == 32


def test_a_nat_holding_half_the_room_gets_half_the_slots() -> None:
    assert address_share(capacity=320, room=150, others=75, floor=32) == 160


def test_one_identity_holds_one_stream_at_a_time() -> None:
    gate = StreamGate(10)
    ticket = gate.reserve("198.51.100.1", "phone", 0)
    with pytest.raises(ApiError) as refused:
        gate.reserve("198.51.100.1", "phone", 0)
    assert refused.value.status_code == 429 and refused.value.code == "stream_in_flight"
    gate.release(ticket)
    gate.release(gate.reserve("198.51.100.1", "phone", 0))  # free again once released


def test_beyond_the_cap_a_request_waits_for_the_next_free_slot() -> None:
    async def scenario() -> list[str]:
        gate = StreamGate(2)
        order: list[str] = []
        first = [gate.reserve(f"10.0.0.{i}", f"p{i}", 0) for i in range(2)]
        for t in first:
            await gate.admit(t, 1)
        late = gate.reserve("10.0.0.9", "late", 0)

        async def wait() -> None:
            await gate.admit(late, 5)
            order.append("late admitted")

        task = asyncio.create_task(wait())
        await asyncio.sleep(0.05)
        order.append(f"in flight {gate.in_flight}, waiting {gate.waiting}")
        gate.release(first[0])
        await task
        return order

    assert run(scenario()) == ["in flight 2, waiting 1", "late admitted"]


def test_a_wait_longer_than_the_queue_timeout_is_a_503() -> None:
    async def scenario() -> ApiError:
        gate = StreamGate(1)
        await gate.admit(gate.reserve("10.0.0.1", "a", 0), 1)
        late = gate.reserve("10.0.0.2", "b", 0)
        try:
            await gate.admit(late, 0.05)
        except ApiError as exc:
            gate.release(late)
            assert gate.waiting == 0
            return exc
        raise AssertionError("admitted past the cap")

    err = run(scenario())
    assert err.status_code == 503 and err.code == "fleet_busy"


async def admitted(gate: StreamGate, lane: str, names: list[str]) -> list:  # type: ignore[type-arg]
    """The tickets of `names` that get a slot at once (the others give up after 10 ms)."""
    got = []
    for name in names:
        ticket = gate.reserve(lane, name, 0)
        try:
            await gate.admit(ticket, 0.01)
            got.append(ticket)
        except ApiError:
            gate.release(ticket)
    return got


def test_an_address_alone_may_use_the_whole_fleet_but_only_the_floor_once_the_room_is_here() -> (
    None
):
    async def scenario() -> tuple[int, int]:
        presence = Presence()
        gate = StreamGate(20, room=10, floor_fraction=0.1, presence=presence)
        presence.seen("203.0.113.7")
        bots = [f"bot{i}" for i in range(30)]
        alone = await admitted(gate, "203.0.113.7", bots)
        for ticket in alone:
            gate.release(ticket)
        for i in range(10):  # the room opens the page from its own addresses
            presence.seen(f"198.51.100.{i}")
        crowded = await admitted(gate, "203.0.113.7", bots)
        return len(alone), len(crowded)

    assert run(scenario()) == (20, 2)  # the fleet, then the floor: 10 % of 20


def test_freed_slots_go_round_robin_over_addresses_least_served_identity_first() -> None:
    async def scenario() -> list[str]:
        gate = StreamGate(3)
        holders = [gate.reserve("10.0.0.1", f"holder{i}", 0) for i in range(3)]
        for holder in holders:
            await gate.admit(holder, 1)
        gate.attained.update({"bot-a": 5, "bot-b": 3})
        served: list[str] = []

        async def ask(lane: str, who: str) -> None:
            ticket = gate.reserve(lane, who, 0)
            await gate.admit(ticket, 5)
            served.append(who)
            await asyncio.sleep(0)
            gate.release(ticket)

        tasks = [
            asyncio.create_task(ask("203.0.113.7", "bot-a")),
            asyncio.create_task(ask("203.0.113.7", "bot-b")),
            asyncio.create_task(ask("203.0.113.7", "phone-behind-the-same-nat")),
            asyncio.create_task(ask("198.51.100.4", "phone-elsewhere")),
        ]
        await asyncio.sleep(0.05)
        gate.release(holders[0])  # one slot: each waiter is served and leaves in turn
        await asyncio.gather(*tasks)
        return served

    assert run(scenario()) == ["phone-behind-the-same-nat", "phone-elsewhere", "bot-b", "bot-a"]


def test_a_full_line_makes_room_for_a_phone_served_less_than_the_last_in_it() -> None:
    async def scenario() -> tuple[str, bool]:
        gate = StreamGate(1)
        await gate.admit(gate.reserve("10.0.0.1", "holder", 0), 1)
        gate.attained["bot"] = 9
        bot = gate.reserve("10.0.0.1", "bot", 0)
        bot_wait = asyncio.create_task(gate.admit(bot, 5))
        await asyncio.sleep(0.01)
        phone = gate.reserve("10.0.0.1", "phone", 0)
        phone_wait = asyncio.create_task(gate.admit(phone, 0.2))
        await asyncio.sleep(0.01)
        with pytest.raises(ApiError) as pushed_out:
            await bot_wait
        with contextlib.suppress(ApiError):  # the holder never leaves: the phone times out
            await phone_wait
        return str(pushed_out.value.code), phone.admitted

    assert run(scenario()) == ("fleet_busy", False)


def test_the_load_lane_is_capped_by_the_fleet_only() -> None:
    presence = Presence()
    gate = StreamGate(10, room=5, presence=presence)
    for i in range(50):
        presence.seen(f"198.51.100.{i}")
    assert gate.lane_cap(LOAD_LANE) == 10
    assert gate.lane_cap("198.51.100.1") == 1


def test_no_cap_means_no_share_either() -> None:
    gate = StreamGate(0)
    assert len(run(admitted(gate, "10.0.0.1", [f"p{i}" for i in range(500)]))) == 500


def test_presence_forgets_addresses_after_the_window() -> None:
    presence = Presence(window_s=60)
    presence.seen("10.0.0.1", now=0)
    presence.seen("10.0.0.2", now=30)
    assert presence.count(now=31) == 2
    assert presence.count(now=75) == 1
    assert not presence.present("10.0.0.1", now=75) and presence.present("10.0.0.2", now=75)


def test_presence_drops_a_flood_a_bounded_number_at_a_time_and_keeps_the_latest() -> None:
    # a sweep of the whole table once a second stalled every stream in flight during a flood
    presence = Presence(window_s=60, max_keys=1_000)
    for i in range(1_200):  # a flood from more addresses than the table keeps
        presence.seen(f"10.{i // 250}.{i % 250}.1", now=i / 1_000)
    presence.seen("198.51.100.1", now=10)  # a phone of the room, seen again later
    assert presence.count(now=10) == 1_000  # the 200 longest unseen are gone already
    assert not presence.present("10.0.0.1", now=10)
    counts = [presence.count(now=65) for _ in range(5)]
    assert counts == [1_000 - k * EXPIRE_PER_CALL for k in (1, 2, 3)] + [1, 1]
    assert presence.present("198.51.100.1", now=65)
