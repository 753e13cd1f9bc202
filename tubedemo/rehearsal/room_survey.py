"""The simulated room answers the survey: when the page flips to the survey, a share of the room
submits through the gateway's public API, as phones do (an identity each, then a rating, a
company and sometimes a name), so a rehearsal's raffle has entries to draw.

``room_answers`` (pure) says who answers what; ``SurveyRoom`` (a thread) watches the gateway's
``/config`` and sends them, spread over ``ANSWER_WINDOW`` seconds of talk time, once per talk
session the page shows the survey in (a `session new` gets a fresh round).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

import httpx

ANSWER_SHARE = 0.4
"""Of the room, how many answer the survey (the rest keep chatting or left already)."""
MAX_ANSWERS = 200
"""At most this many answers per round: enough for any draw, light on a laptop."""
ANSWER_WINDOW = 60.0
"""Over how many seconds of talk time the answers arrive after the flip."""
POLL_S = 0.25
"""How often (wall seconds) the room looks at the page's mode."""
IDENTITY_HEADER = "X-Tubedemo-Identity"

COMPANIES = ("Tube & Co", "Metroline", "Signal Works", "Northern Data", "Platform 9", "Oyster Labs")
NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Radia", "Tim")


@dataclass(frozen=True)
class Answer:
    after: float
    """Talk seconds after the flip."""
    rating: int
    company: str
    name: str | None


def room_answers(size: int, seed: int = 0) -> list[Answer]:
    """Who in a room of ``size`` answers, when and what, in order of arrival. Pure."""
    rng = random.Random(seed)
    count = min(MAX_ANSWERS, max(1, round(size * ANSWER_SHARE))) if size > 0 else 0
    answers = [
        Answer(
            after=rng.uniform(0.0, ANSWER_WINDOW),
            rating=rng.choice((3, 4, 4, 5, 5, 5)),
            company=rng.choice(COMPANIES),
            # most leave a name for the draw, a few stay anonymous
            name=None if rng.random() < 0.2 else f"{rng.choice(NAMES)} {i + 1}",
        )
        for i in range(count)
    ]
    return sorted(answers, key=lambda a: a.after)


class SurveyRoom:
    """Sends the room's answers whenever the page shows the survey in a session it has not
    answered yet. Failures are counted, never raised: the rehearsal goes on without them."""

    def __init__(self, base_url: str, size: int, speed: float, seed: int = 0) -> None:
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=5.0, trust_env=False)
        self._size = size
        self._speed = speed
        self._seed = seed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="survey-room", daemon=True)
        self.submitted = 0
        self.failures = 0

    def start(self) -> SurveyRoom:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self._http.close()

    def _page(self) -> tuple[str, str] | None:
        try:
            resp = self._http.get("/config")
            data = resp.json() if resp.is_success else None
        except (httpx.HTTPError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        return str(data.get("mode") or ""), str(data.get("session") or "")

    def _run(self) -> None:
        answered: set[str] = set()
        while not self._stop.wait(POLL_S):
            page = self._page()
            if page is None or page[0] != "survey" or page[1] in answered:
                continue
            answered.add(page[1])
            self._answer(room_answers(self._size, self._seed + len(answered)))

    def _answer(self, answers: list[Answer]) -> None:
        waited = 0.0
        for answer in answers:
            wall = answer.after / self._speed
            if self._stop.wait(max(0.0, wall - waited)):
                return
            waited = wall
            self._submit(answer)

    def _submit(self, answer: Answer) -> None:
        try:
            identity = self._http.post("/api/identity")
            identity.raise_for_status()
            body: dict[str, object] = {"rating": answer.rating, "company": answer.company}
            if answer.name is not None:
                body["name"] = answer.name
            resp = self._http.post(
                "/api/survey/submit",
                json=body,
                headers={IDENTITY_HEADER: str(identity.json()["token"])},
            )
            resp.raise_for_status()
            self.submitted += 1
        except (httpx.HTTPError, ValueError, KeyError):
            self.failures += 1
