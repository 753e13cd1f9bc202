"""The gateway's data and survey rules: talk sessions, submissions, questions and draws.

No side effects: nothing here does I/O, and the clock and the random source are injected
(`Sources`), so the same records, clock and seed give the same ids, timestamps and draws.
Every change is a `Record` (an upsert of one keyed object): a rule of `State` computes the
records, the runtime (gateway/runtime.py) persists them and then applies them here; on start
the store's records are replayed into a new `State`.
"""

from __future__ import annotations

import csv
import io
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.profanity import display, fold, mask

COMPANY_MAX_CHARS = 80
"""Longest company name on a survey submission (after collapsing whitespace)."""
RAFFLE_FLOOR = 5
"""Entries every address keeps in the draw, however many other addresses entered."""


@dataclass(frozen=True)
class Sources:
    """Where time and randomness come from: the system's in production, fixed ones in tests."""

    wall_ns: Callable[[], int]
    """Wall clock, nanoseconds since the epoch: timestamps, session ids and record revisions."""
    rng: random.Random
    """Ids, session suffixes and the seed of an unseeded draw. In production the OS's
    randomness (`random.SystemRandom`, what `secrets` uses), so ids cannot be guessed."""

    @classmethod
    def system(cls) -> Sources:
        return cls(wall_ns=time.time_ns, rng=random.SystemRandom())

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall_ns() / 1e9, UTC)

    def timestamp(self) -> str:
        """Now as ISO 8601 UTC with milliseconds, e.g. 2026-05-14T09:30:00.123Z."""
        return self.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def uuid_hex(self) -> str:
        """A random (version 4) UUID as 32 hex digits."""
        return uuid.UUID(int=self.rng.getrandbits(128), version=4).hex

    def token_hex(self, nbytes: int) -> str:
        return f"{self.rng.getrandbits(8 * nbytes):0{2 * nbytes}x}"


@dataclass(frozen=True)
class Record:
    """One persisted upsert: the newest `rev` of a (kind, session, key) wins on replay."""

    kind: str
    key: str
    data: dict[str, Any]
    rev: int
    session: str | None = None

    @property
    def path(self) -> str:
        """Store-relative location, also the S3 key suffix (docs/api.md, "Storage")."""
        if self.session is None:
            return f"{self.kind}/{self.key}"
        return f"sessions/{self.session}/{self.kind}s/{self.key}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "session": self.session,
            "key": self.key,
            "rev": self.rev,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Record:
        return cls(
            kind=str(raw["kind"]),
            key=str(raw["key"]),
            data=dict(raw["data"]),
            rev=int(raw["rev"]),
            session=None if raw.get("session") is None else str(raw["session"]),
        )


class RevClock:
    """Monotonic record revisions that stay above everything replayed from the store."""

    def __init__(self, wall_ns: Callable[[], int]) -> None:
        self._wall_ns = wall_ns
        self._last = 0

    def seen(self, rev: int) -> None:
        self._last = max(self._last, rev)

    def next(self) -> int:
        self._last = max(self._last + 1, self._wall_ns())
        return self._last


def latest(records: list[Record]) -> list[Record]:
    """Newest revision per (kind, session, key), ordered by revision."""
    best: dict[tuple[str, str | None, str], Record] = {}
    for rec in records:
        ident = (rec.kind, rec.session, rec.key)
        if ident not in best or best[ident].rev < rec.rev:
            best[ident] = rec
    return sorted(best.values(), key=lambda r: r.rev)


@dataclass
class Session:
    id: str
    name: str
    created_at: str
    archived: bool = False
    submissions: dict[str, dict[str, Any]] = field(default_factory=dict)
    """identity id (the record's `client_id`) -> submission data."""
    questions: dict[str, dict[str, Any]] = field(default_factory=dict)
    draws: list[dict[str, Any]] = field(default_factory=list)
    origins: Counter[str] = field(default_factory=Counter)
    """Submissions per origin (a keyed hash of the source address), kept in step by `State`."""

    def put_submission(self, key: str, data: dict[str, Any]) -> None:
        old = self.submissions.get(key)
        if old is not None:
            self.origins[str(old.get("origin", ""))] -= 1
        self.submissions[key] = data
        self.origins[str(data.get("origin", ""))] += 1

    def drop_submission(self, key: str) -> None:
        old = self.submissions.pop(key, None)
        if old is not None:
            self.origins[str(old.get("origin", ""))] -= 1


class Invalid(ValueError):
    """A submission the rules refuse; the message names the field and the fix."""


class NoEligible(Exception):
    """Nobody (left) to draw."""


def encodable(text: str, what: str) -> str:
    """`text` if it can be stored as UTF-8, else `Invalid` (a lone surrogate such as \\ud800
    parses as JSON but breaks every later write and read of it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(f"{what}: contains characters that are not text (lone surrogates)") from None
    return text


def clean_entry(company: str, name: str | None, name_max: int) -> tuple[str, str | None]:
    """Company and display name as stored: whitespace collapsed, lengths checked (`Invalid`)."""
    company = " ".join(encodable(company, "company").split())
    if name is not None:
        encodable(name, "name")
    if not display(company):
        raise Invalid("company: say where you work (or 'none')")
    if len(company) > COMPANY_MAX_CHARS:
        raise Invalid(f"company: at most {COMPANY_MAX_CHARS} characters")
    cleaned = " ".join(name.split()) if name else None
    if cleaned and len(cleaned) > name_max:
        raise Invalid(f"name: at most {name_max} characters")
    if cleaned and not display(cleaned):
        cleaned = None  # nothing visible: anonymous, as if left empty
    return company, cleaned or None


class State:
    """What the gateway knows, rebuilt from records at start, and the rules that change it.

    Rules (`open_session`, `submission`, `draw`, ...) only compute records; `apply` changes the
    state once the runtime has stored them.
    """

    def __init__(self, sources: Sources | None = None) -> None:
        self.sources = sources or Sources.system()
        self.revs = RevClock(self.sources.wall_ns)
        self.sessions: dict[str, Session] = {}
        self.current: str | None = None
        self.mode: str | None = None

    # ------------------------------------------------------------------ replay and apply
    def replay(self, records: list[Record]) -> None:
        """Rebuild from stored records (newest revision of each object wins)."""
        for rec in latest(records):
            self.revs.seen(rec.rev)
            self.apply(rec)

    def apply(self, rec: Record) -> None:
        if rec.kind == "session":
            sess = self.sessions.get(rec.key)
            if sess is None:
                self.sessions[rec.key] = Session(
                    id=rec.key,
                    name=str(rec.data["name"]),
                    created_at=str(rec.data["created_at"]),
                    archived=bool(rec.data.get("archived", False)),
                )
            else:  # replay may have met the session's data before its (newer) own record
                sess.name = str(rec.data["name"])
                sess.created_at = str(rec.data["created_at"])
                sess.archived = bool(rec.data.get("archived", False))
        elif rec.kind == "current":
            self.current = str(rec.data["session"])
        elif rec.kind == "mode":
            self.mode = str(rec.data["mode"])
        elif rec.session is not None:
            sess = self.sessions.get(rec.session)
            if sess is None:  # data of a session whose own record was lost: keep the data
                sess = self.sessions[rec.session] = Session(
                    id=rec.session,
                    name=rec.session,
                    created_at=self.sources.timestamp(),
                    archived=True,
                )
            if rec.kind == "submission":
                sess.put_submission(rec.key, rec.data)
            elif rec.kind == "question":
                sess.questions[rec.key] = rec.data
            elif rec.kind == "draw":
                sess.draws = [d for d in sess.draws if d["draw_id"] != rec.key] + [rec.data]
                sess.draws.sort(key=lambda d: str(d["at"]))

    def tentatively(self, rec: Record) -> Callable[[], None]:
        """Apply a submission before it is stored (a concurrent resubmit of the same phone then
        sees its id); returns the undo for when storing fails."""
        sess = self.sessions[str(rec.session)]
        before = sess.submissions.get(rec.key)
        sess.put_submission(rec.key, rec.data)

        def undo() -> None:
            if sess.submissions.get(rec.key) is rec.data:
                if before is None:
                    sess.drop_submission(rec.key)
                else:
                    sess.put_submission(rec.key, before)

        return undo

    def session(self) -> Session:
        assert self.current is not None, "state has no current session"
        return self.sessions[self.current]

    def has_session(self) -> bool:
        return self.current is not None and self.current in self.sessions

    # ------------------------------------------------------------------ rules
    def record(
        self, kind: str, key: str, data: dict[str, Any], session: str | None = None
    ) -> Record:
        return Record(kind=kind, key=key, data=data, rev=self.revs.next(), session=session)

    def new_session_id(self) -> str:
        """Creation time (UTC, to the second) and 4 random hex digits: 20260514-093000-1a2b."""
        return self.sources.now().strftime("%Y%m%d-%H%M%S-") + self.sources.token_hex(2)

    def open_session(self, name: str | None) -> list[Record]:
        """A new session and the records that make it current, in the order to store them."""
        sid = self.new_session_id()
        data = {
            "name": name or f"session {sid}",
            "created_at": self.sources.timestamp(),
            "archived": False,
        }
        return [
            self.record("session", sid, data),
            self.record("current", "current", {"session": sid}),
        ]

    def archive_current(self) -> Record:
        old = self.session()
        return self.record(
            "session", old.id, {"name": old.name, "created_at": old.created_at, "archived": True}
        )

    def set_mode(self, mode: str) -> Record:
        return self.record("mode", "mode", {"mode": mode})

    def question(self, text: str) -> Record:
        """A counted audience question of the current session."""
        sess = self.session()
        data = {"text": text, "at": self.sources.timestamp()}
        return self.record("question", self.sources.uuid_hex(), data, sess.id)

    def submission(
        self, client_id: str, rating: int, company: str, name: str | None, origin: str = ""
    ) -> tuple[Record, bool]:
        """A phone's (re)submission to the current session: (record, created).

        `client_id` is the phone's identity. A resubmit keeps its id, creation time and origin
        (where it first entered from); `company`/`name` come from `clean_entry`.
        """
        sess = self.session()
        existing = sess.submissions.get(client_id)
        now = self.sources.timestamp()
        data = {
            "id": existing["id"] if existing else self.sources.uuid_hex(),
            "client_id": client_id,
            "origin": str(existing.get("origin", origin)) if existing else origin,
            "rating": rating,
            "company": company,
            "company_display": mask(company),
            "name": name,
            "name_display": mask(name) if name else None,
            "created_at": existing["created_at"] if existing else now,
            "updated_at": now,
        }
        return self.record("submission", client_id, data, sess.id), existing is None

    def draw(
        self, count: int, seed: int | None, redraw: bool, room: int = 150
    ) -> tuple[dict[str, Any], Record | None]:
        """Pick winners in the current session: (draw data, record to store or None).

        Without `redraw`, the latest draw is returned unchanged (the screen can ask again
        safely). A redraw excludes everyone who ever won in this session. Each origin keeps
        at most its room share of entries (`eligible_entries`); the eligible ids are sorted
        and recorded with the seed, so `random.Random(seed).sample(eligible, k)` repeats it.
        Without a seed one is taken from the random source.
        """
        sess = self.session()
        if sess.draws and not redraw:
            return sess.draws[-1], None
        earlier = {w for d in sess.draws for w in d["winners"]}
        if seed is None:
            seed = self.sources.rng.getrandbits(32)
        entries = [s for s in sess.submissions.values() if s["id"] not in earlier]
        eligible = eligible_entries(entries, room, seed)
        if not eligible:
            raise NoEligible(
                "no eligible submissions to draw from"
                + (" (everyone has already won)" if earlier else "")
            )
        winners = random.Random(seed).sample(eligible, min(count, len(eligible)))
        draw_id = self.sources.token_hex(6)
        data: dict[str, Any] = {
            "draw_id": draw_id,
            "seed": seed,
            "count": count,
            "redraw": redraw,
            "at": self.sources.timestamp(),
            "eligible": eligible,
            "entries": len(entries),
            "room": room,
            "excluded": sorted(earlier),
            "winners": winners,
        }
        return data, self.record("draw", draw_id, data, sess.id)


# ---------------------------------------------------------------------- views (pure)


def origin_share(entries: int, room: int, other_origins: int) -> int:
    """Entries one origin keeps in the draw: as many people as the room can have behind it
    once every other origin is one person, at least RAFFLE_FLOOR. Pure.

    A venue NAT with the whole room behind it keeps `room`; a laptop on an address of its own,
    while the room enters from its own addresses, keeps RAFFLE_FLOOR."""
    return min(entries, max(RAFFLE_FLOOR, room - other_origins))


def eligible_entries(entries: list[dict[str, Any]], room: int, seed: int) -> list[str]:
    """Sorted ids in the draw: every origin over its share keeps a random subset of that size
    (chosen with a generator seeded from `seed`, so the draw can be repeated). Pure."""
    by_origin: dict[str, list[str]] = {}
    for sub in entries:
        by_origin.setdefault(str(sub.get("origin", "")), []).append(str(sub["id"]))
    rng = random.Random(f"eligible-{seed}")
    kept: list[str] = []
    for origin in sorted(by_origin):
        ids = sorted(by_origin[origin])
        share = origin_share(len(ids), room, len(by_origin) - 1)
        kept.extend(ids if share >= len(ids) else rng.sample(ids, share))
    return sorted(kept)


def raffle_summary(sess: Session, room: int, top: int = 5) -> dict[str, Any]:
    """What the presenter sees before drawing: entries, eligible entries, the origins holding
    the most entries and what each keeps (origins are keyed hashes, never addresses). Pure."""
    earlier = {w for d in sess.draws for w in d["winners"]}
    counts = Counter(
        str(s.get("origin", "")) for s in sess.submissions.values() if s["id"] not in earlier
    )
    others = len(counts) - 1
    largest = [
        {"origin": origin or "unknown", "entries": n, "eligible": origin_share(n, room, others)}
        for origin, n in counts.most_common(top)
    ]
    return {
        "session": sess.id,
        "entries": sum(counts.values()),
        "eligible": sum(origin_share(n, room, others) for n in counts.values()),
        "origins": len(counts),
        "room": room,
        "already_won": len(earlier),
        "largest": largest,
    }


def session_summary(sess: Session, current: str | None) -> dict[str, Any]:
    return {
        "id": sess.id,
        "name": sess.name,
        "created_at": sess.created_at,
        "submissions": len(sess.submissions),
        "questions": len(sess.questions),
        "archived": sess.archived,
        "current": sess.id == current,
    }


def results(sess: Session, room: int = 150, top: int = 10) -> dict[str, Any]:
    """Ratings and top companies for the screen. Each origin weighs as much as the entries it
    keeps in the draw (`origin_share`), so one address flooding the survey cannot choose what
    the projector shows; counts are those weights, rounded."""
    others = len(+sess.origins) - 1
    weight = {
        origin: origin_share(n, room, others) / n for origin, n in sess.origins.items() if n > 0
    }
    ratings: dict[str, float] = {}
    # Group by what the text says (case, spacing, accents, look-alike letters); show the most
    # common spelling.
    groups: dict[str, dict[str, float]] = {}
    for sub in sess.submissions.values():
        w = weight.get(str(sub.get("origin", "")), 1.0)
        rating = str(sub["rating"])
        ratings[rating] = ratings.get(rating, 0.0) + w
        shown = mask(str(sub["company"]))
        spellings = groups.setdefault(fold(shown) or shown, {})
        spellings[shown] = spellings.get(shown, 0.0) + w

    def commonest(spellings: dict[str, float]) -> str:
        return min(spellings, key=lambda name: (-spellings[name], name))

    ranked = sorted(groups.values(), key=lambda g: (-sum(g.values()), commonest(g)))
    return {
        "session": sess.id,
        "total": len(sess.submissions),
        "ratings": {str(r): round(ratings.get(str(r), 0.0)) for r in range(1, 6)},
        "top_companies": [
            {"company": commonest(g), "count": round(sum(g.values()))}
            for g in ranked[:top]
            if round(sum(g.values())) > 0
        ],
        "questions": len(sess.questions),
    }


def by_id(sess: Session) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in sess.submissions.values()}


def public_winners(sess: Session) -> dict[str, Any]:
    """Ids and display names of the latest draw, nothing else about anyone."""
    subs = by_id(sess)
    last = sess.draws[-1] if sess.draws else None
    winners = []
    for wid in last["winners"] if last else []:
        sub = subs.get(wid) or {}
        name = mask(str(sub["name"])) if sub.get("name") else ""
        winners.append({"id": wid, "name": name or "anonymous"})
    return {"session": sess.id, "drawn": last is not None, "winners": winners}


def draw_response(sess: Session, data: dict[str, Any], room: int = 150) -> dict[str, Any]:
    """The draw as the presenter reveals it: names and companies through the same normaliser
    and mask as the screen (the export keeps what people typed), and the raffle's shape."""
    subs = by_id(sess)

    def shown(sub: dict[str, Any], key: str) -> str:
        return mask(str(sub[key])) if sub.get(key) else ""

    return {
        "draw_id": data["draw_id"],
        "seed": data["seed"],
        "session": sess.id,
        "winners": [
            {
                "id": wid,
                "name": shown(subs.get(wid, {}), "name"),
                "company": shown(subs.get(wid, {}), "company"),
            }
            for wid in data["winners"]
        ],
        "entries": data.get("entries", len(data["eligible"])),
        "eligible": len(data["eligible"]),
        "raffle": raffle_summary(sess, int(data.get("room", room))),
    }


CSV_COLUMNS = (
    "id",
    "client_id",
    "rating",
    "company",
    "name",
    "created_at",
    "updated_at",
    "winner",
)


def export_csv(sess: Session) -> str:
    """Submissions of a session; `winner` holds the draw id that picked the person, or empty."""
    won = {w: d["draw_id"] for d in sess.draws for w in d["winners"]}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for sub in sorted(sess.submissions.values(), key=lambda s: str(s["created_at"])):
        row = [sub.get(c, "") if c != "winner" else won.get(sub["id"], "") for c in CSV_COLUMNS]
        # A company like "=HYPERLINK(...)" must not become a formula in the organiser's sheet.
        writer.writerow(
            ["'" + v if isinstance(v, str) and v[:1] in ("=", "+", "-", "@") else v for v in row]
        )
    return out.getvalue()
