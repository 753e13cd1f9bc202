"""Fair share of the fleet: who may open a stream now, and who waits for the next free slot.

The resource is the fleet's stream slots (`capacity` = replicas × slots per replica, from the
config). Three rules decide, in this order:

1. One stream in flight per identity (a phone asks one question at a time).
2. A source address ("lane") may hold at most its share of the slots. The share is the part of
   the room its address can be: with `room` people expected and `others` other addresses seen
   recently, an address may be up to `room - others` of them, so it gets
   `capacity × (room - others) / room` slots, never less than `floor`. A venue NAT with the
   whole room behind it (no other addresses) gets every slot; a laptop on an address of its
   own while the room is on its own addresses gets the floor (10 % by default).
3. Beyond the capacity, or beyond its lane's share, a request waits (bounded): freed slots go
   round robin over the lanes, and inside a lane to the identity that has been served least
   (then the one issued first), so 150 phones asking their first question behind one NAT go
   ahead of a script's identities that have already had answers.

The load generator (k6, with its own credential) is one lane of its own, capped by the
capacity only. Everything here runs on the event loop, without locks; admission without
waiting is a few dictionary operations.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from gateway.errors import ApiError

LOAD_LANE = "load"
"""The lane of the load generator's credential (never an address: addresses contain digits
and dots or colons only)."""


EXPIRE_PER_CALL = 256
"""Addresses one `Presence.count` drops at most (a few hundred microseconds)."""


class Presence:
    """Distinct source addresses seen within the last `window_s` seconds (bounded memory).

    Kept in the order last seen, so the ones that left the window are dropped from the front
    as they expire: a few dictionary operations per request, never a sweep of the table on
    the event loop (a flood from 100,000 addresses made that sweep a stall once a second for
    every stream then in flight)."""

    def __init__(self, window_s: float = 60.0, max_keys: int = 100_000) -> None:
        self.window_s = window_s
        self.max_keys = max_keys
        self._seen: OrderedDict[str, float] = OrderedDict()

    def seen(self, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        seen = self._seen
        seen[address] = now
        seen.move_to_end(address)  # counted at once: a new phone narrows the others' shares now
        if len(seen) > self.max_keys:
            seen.popitem(last=False)  # the longest unseen goes first

    def count(self, now: float | None = None) -> int:
        """Addresses seen within the window."""
        now = time.monotonic() if now is None else now
        horizon = now - self.window_s
        seen = self._seen
        # at most EXPIRE_PER_CALL at once: a flood that arrived together leaves together, and
        # one request must not pay for all of it (until then the share is the smaller one)
        for _ in range(EXPIRE_PER_CALL):
            if not seen:
                break
            oldest = next(iter(seen))
            if seen[oldest] >= horizon:
                break
            del seen[oldest]
        return len(seen)

    def present(self, address: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        last = self._seen.get(address)
        return last is not None and now - last < self.window_s


def address_share(capacity: int, room: int, others: int, floor: int) -> int:
    """Slots one address may hold: its possible part of the room, at least `floor`. Pure."""
    others = min(max(others, 0), room)
    return max(floor, math.ceil(capacity * (room - others) / room))


@dataclass(eq=False)
class Ticket:
    """One request's claim on a slot, from reservation to release."""

    lane: str
    identity: str | None
    priority: tuple[int, int]
    """(streams the identity already had, when it was issued): smaller goes first."""
    admitted: bool = False
    released: bool = False
    waiting: asyncio.Future[None] | None = field(default=None, repr=False)


class StreamGate:
    """Admission of streams under the rules of this module's docstring."""

    def __init__(
        self,
        capacity: int,
        *,
        room: int = 150,
        floor_fraction: float = 0.1,
        presence: Presence | None = None,
        max_identities: int = 200_000,
    ) -> None:
        self.capacity = capacity
        """Streams in flight at most (0: no cap and no per-address share)."""
        self.room = max(1, room)
        self.floor = max(1, math.ceil(floor_fraction * capacity))
        self.presence = presence or Presence()
        self.max_identities = max_identities
        self.in_flight = 0
        self.by_lane: dict[str, int] = {}
        self.holders: set[str] = set()
        self.attained: dict[str, int] = {}
        self._queues: dict[str, list[tuple[tuple[int, int], int, Ticket]]] = {}
        self._turns: OrderedDict[str, None] = OrderedDict()
        self._seq = itertools.count()
        self.waiting = 0

    # ------------------------------------------------------------------ shares
    def lane_cap(self, lane: str, now: float | None = None) -> int:
        if self.capacity <= 0:
            return math.inf  # type: ignore[return-value]
        if lane == LOAD_LANE:
            return self.capacity
        others = self.presence.count(now) - (1 if self.presence.present(lane, now) else 0)
        return address_share(self.capacity, self.room, others, self.floor)

    # ------------------------------------------------------------------ reservation
    def reserve(self, lane: str, identity: str | None, issued_at: int = 0) -> Ticket:
        """Claim the identity's one stream (429 when it already has one in flight)."""
        if identity is not None:
            if identity in self.holders:
                raise ApiError(
                    429,
                    "one question at a time: wait for the answer you are getting",
                    "stream_in_flight",
                    headers={"Retry-After": "5"},
                )
            self.holders.add(identity)
        served = self.attained.get(identity, 0) if identity is not None else 0
        return Ticket(lane, identity, (served, issued_at))

    async def admit(self, ticket: Ticket, timeout_s: float) -> None:
        """Return once the ticket holds a slot; 503 after `timeout_s` in the queue."""
        if self._fits(ticket.lane) and ticket.lane not in self._queues:
            self._take(ticket)
            return
        queue = self._queues.setdefault(ticket.lane, [])
        if len(queue) >= self.capacity:  # a longer line would wait more than one turnover
            worst = max(queue, key=lambda e: (e[0], e[1]))
            if (ticket.priority, math.inf) >= (worst[0], worst[1]):
                if not queue:
                    del self._queues[ticket.lane]
                raise _full()
            queue.remove(worst)  # a phone served less goes ahead of one served more
            heapq.heapify(queue)
            self.waiting -= 1
            if worst[2].waiting is not None and not worst[2].waiting.done():
                worst[2].waiting.set_exception(_full())
        ticket.waiting = asyncio.get_running_loop().create_future()
        heapq.heappush(queue, (ticket.priority, next(self._seq), ticket))
        self._turns.setdefault(ticket.lane, None)
        self.waiting += 1
        try:
            await asyncio.wait_for(asyncio.shield(ticket.waiting), timeout_s)
        except TimeoutError:
            raise _full() from None

    def release(self, ticket: Ticket) -> None:
        """Give the slot (or the place in the queue) back; safe to call more than once."""
        if ticket.released:
            return
        ticket.released = True
        if ticket.identity is not None:
            self.holders.discard(ticket.identity)
        if ticket.admitted:
            self.in_flight -= 1
            left = self.by_lane[ticket.lane] - 1
            if left:
                self.by_lane[ticket.lane] = left
            else:
                del self.by_lane[ticket.lane]
            self._wake()
        elif ticket.waiting is not None:
            self._forget(ticket)

    # ------------------------------------------------------------------ internals
    def _fits(self, lane: str) -> bool:
        if self.capacity <= 0:
            return True
        return self.in_flight < self.capacity and self.by_lane.get(lane, 0) < self.lane_cap(lane)

    def _take(self, ticket: Ticket) -> None:
        ticket.admitted = True
        self.in_flight += 1
        self.by_lane[ticket.lane] = self.by_lane.get(ticket.lane, 0) + 1
        if ticket.identity is not None:
            if len(self.attained) >= self.max_identities:
                self.attained.clear()  # bounded memory; fairness restarts from equal
            self.attained[ticket.identity] = self.attained.get(ticket.identity, 0) + 1

    def _forget(self, ticket: Ticket) -> None:
        queue = self._queues.get(ticket.lane)
        if queue is None:
            return
        for i, entry in enumerate(queue):
            if entry[2] is ticket:
                queue[i] = queue[-1]
                queue.pop()
                heapq.heapify(queue)
                self.waiting -= 1
                break
        if not queue:
            del self._queues[ticket.lane]
            self._turns.pop(ticket.lane, None)

    def _wake(self) -> None:
        """Hand free slots to waiting lanes, one per lane per turn, least-served first."""
        while self._turns and self.in_flight < self.capacity:
            for lane in self._turns:
                if self.by_lane.get(lane, 0) < self.lane_cap(lane):
                    break
            else:
                return  # every waiting lane is at its share
            queue = self._queues[lane]
            _, _, ticket = heapq.heappop(queue)
            self.waiting -= 1
            if not queue:
                del self._queues[lane]
                del self._turns[lane]
            else:
                self._turns.move_to_end(lane)
            self._take(ticket)
            assert ticket.waiting is not None
            if not ticket.waiting.done():
                ticket.waiting.set_result(None)


def _full() -> ApiError:
    return ApiError(
        503,
        "every line is busy right now; please ask again in a moment",
        "fleet_busy",
        headers={"Retry-After": "10"},
    )
