"""The gateway's data: talk sessions, survey submissions, questions and draws (no side effects).

Everything that changes is expressed as a `Record` (an upsert of one keyed object). The store
persists records; on start the gateway replays them into a `State`. Functions here compute
results from the state; the app performs the I/O.
"""

from __future__ import annotations

import csv
import io
import random
import secrets
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gateway.profanity import mask


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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

    def __init__(self) -> None:
        self._last = 0

    def seen(self, rev: int) -> None:
        self._last = max(self._last, rev)

    def next(self) -> int:
        self._last = max(self._last + 1, time.time_ns())
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
    """client_id -> submission data."""
    questions: dict[str, dict[str, Any]] = field(default_factory=dict)
    draws: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class State:
    """What the gateway knows; rebuilt from records at start."""

    sessions: dict[str, Session] = field(default_factory=dict)
    current: str | None = None
    mode: str | None = None

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
                    id=rec.session, name=rec.session, created_at=utc_now(), archived=True
                )
            if rec.kind == "submission":
                sess.submissions[rec.key] = rec.data
            elif rec.kind == "question":
                sess.questions[rec.key] = rec.data
            elif rec.kind == "draw":
                sess.draws = [d for d in sess.draws if d["draw_id"] != rec.key] + [rec.data]
                sess.draws.sort(key=lambda d: str(d["at"]))

    def session(self) -> Session:
        assert self.current is not None, "state has no current session"
        return self.sessions[self.current]


def new_session_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


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


def build_submission(
    existing: dict[str, Any] | None,
    client_id: str,
    rating: int,
    company: str,
    name: str | None,
) -> dict[str, Any]:
    """The stored form of a (re)submission; a resubmit keeps its id and creation time."""
    now = utc_now()
    return {
        "id": existing["id"] if existing else uuid.uuid4().hex,
        "client_id": client_id,
        "rating": rating,
        "company": company,
        "company_display": mask(company),
        "name": name,
        "name_display": mask(name) if name else None,
        "created_at": existing["created_at"] if existing else now,
        "updated_at": now,
    }


def results(sess: Session, top: int = 10) -> dict[str, Any]:
    ratings = Counter(str(s["rating"]) for s in sess.submissions.values())
    # Group case- and space-insensitively, show the most common spelling.
    groups: dict[str, Counter[str]] = {}
    for sub in sess.submissions.values():
        shown = str(sub["company_display"])
        groups.setdefault(" ".join(shown.lower().split()), Counter())[shown] += 1
    ranked = sorted(groups.values(), key=lambda c: (-sum(c.values()), c.most_common(1)[0][0]))
    return {
        "session": sess.id,
        "total": len(sess.submissions),
        "ratings": {str(r): ratings.get(str(r), 0) for r in range(1, 6)},
        "top_companies": [
            {"company": c.most_common(1)[0][0], "count": sum(c.values())} for c in ranked[:top]
        ],
        "questions": len(sess.questions),
    }


class NoEligible(Exception):
    """Nobody (left) to draw."""


def draw(sess: Session, count: int, seed: int | None, redraw: bool) -> tuple[dict[str, Any], bool]:
    """Pick winners; returns (draw record data, created).

    Without `redraw`, the latest draw of the session is returned unchanged (the screen can ask
    again safely). A redraw excludes everyone who ever won in this session. Eligible ids are
    sorted and recorded with the seed, so `random.Random(seed).sample(eligible, k)` repeats it.
    """
    if sess.draws and not redraw:
        return sess.draws[-1], False
    earlier = {w for d in sess.draws for w in d["winners"]}
    eligible = sorted(s["id"] for s in sess.submissions.values() if s["id"] not in earlier)
    if not eligible:
        raise NoEligible(
            "no eligible submissions to draw from"
            + (" (everyone has already won)" if earlier else "")
        )
    if seed is None:
        seed = secrets.randbits(32)
    winners = random.Random(seed).sample(eligible, min(count, len(eligible)))
    return {
        "draw_id": uuid.uuid4().hex[:12],
        "seed": seed,
        "count": count,
        "redraw": redraw,
        "at": utc_now(),
        "eligible": eligible,
        "excluded": sorted(earlier),
        "winners": winners,
    }, True


def by_id(sess: Session) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in sess.submissions.values()}


def public_winners(sess: Session) -> dict[str, Any]:
    """Ids and display names of the latest draw, nothing else about anyone."""
    subs = by_id(sess)
    last = sess.draws[-1] if sess.draws else None
    winners = []
    for wid in last["winners"] if last else []:
        sub = subs.get(wid)
        winners.append({"id": wid, "name": (sub or {}).get("name_display") or "anonymous"})
    return {"session": sess.id, "drawn": last is not None, "winners": winners}


def draw_response(sess: Session, data: dict[str, Any]) -> dict[str, Any]:
    subs = by_id(sess)
    return {
        "draw_id": data["draw_id"],
        "seed": data["seed"],
        "session": sess.id,
        "winners": [
            {
                "id": wid,
                "name": subs.get(wid, {}).get("name") or "",
                "company": subs.get(wid, {}).get("company") or "",
            }
            for wid in data["winners"]
        ],
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
