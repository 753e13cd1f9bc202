"""winners and session commands against the real gateway (`python -m gateway`) on loopback."""

from __future__ import annotations

import csv
import io
import random
import re
import socket
import time
from pathlib import Path

import pytest

from tests.gateway_proc import GatewayProcess
from tubedemo.audience.gateway_client import parse_export

from .conftest import Tubedemo

pytestmark = pytest.mark.integration


def _seed(gw: GatewayProcess, n: int, prefix: str = "phone") -> dict[str, str]:
    """n phones submit the survey; returns submission id -> display name."""
    people = {}
    for i in range(n):
        name = f"{prefix.title()} {i}"
        people[gw.submit(f"{prefix}-{i}", 1 + i % 5, f"Company {i}", name)] = name
    return people


def _winner_ids(gw: GatewayProcess) -> list[str]:
    return [w["id"] for w in gw.get("/api/survey/winners").json()["winners"]]


def test_draw_is_reproducible_from_its_seed(gateway: GatewayProcess, tubedemo: Tubedemo) -> None:
    people = _seed(gateway, 12)
    run = tubedemo("winners", "--count", "3", "--seed", "4242", "--gateway-url", gateway.url)
    assert run.code == 0, run.err
    expected = random.Random(4242).sample(sorted(people), 3)
    assert _winner_ids(gateway) == expected
    for wid in expected:
        assert people[wid] in run.out and wid in run.out
    assert "seed 4242" in run.out


def test_phones_see_the_winners_within_2s(gateway: GatewayProcess, tubedemo: Tubedemo) -> None:
    _seed(gateway, 5)
    run = tubedemo("winners", "--count", "2", "--gateway-url", gateway.url)
    assert run.code == 0, run.err
    drawn = re.findall(r"\b[0-9a-f]{32}\b", run.out)
    shown_at = time.monotonic()
    deadline = shown_at + 2.0
    while time.monotonic() < deadline and sorted(_winner_ids(gateway)) != sorted(drawn):
        time.sleep(0.1)
    assert sorted(_winner_ids(gateway)) == sorted(drawn)
    assert len(drawn) == 2


def test_asking_again_shows_the_same_winners(gateway: GatewayProcess, tubedemo: Tubedemo) -> None:
    _seed(gateway, 8)
    first = tubedemo("winners", "--count", "2", "--gateway-url", gateway.url)
    ids = _winner_ids(gateway)
    again = tubedemo("winners", "--count", "5", "--gateway-url", gateway.url)
    assert first.code == again.code == 0
    assert _winner_ids(gateway) == ids
    assert "already drawn" in again.err
    assert all(wid in again.out for wid in ids)


def test_winners_named_like_markup_or_rudely_are_revealed_escaped_and_masked(
    gateway: GatewayProcess, tubedemo: Tubedemo
) -> None:
    gateway.submit("markup", 5, "[bold]ACME[/]", "[/]")
    gateway.submit("rude", 5, "ѕhit Ltd", "f u c k")
    run = tubedemo("winners", "--count", "2", "--instant", "--gateway-url", gateway.url)
    assert run.code == 0, run.err
    assert "[/] — [bold]ACME[/]" in run.out
    assert "f * * * — ѕ*** Ltd" in run.out
    assert "u c k" not in run.out and "hit Ltd" not in run.out


def test_check_shows_the_raffle_before_drawing_and_draws_nothing(
    gateway: GatewayProcess, tubedemo: Tubedemo
) -> None:
    _seed(gateway, 3)
    run = tubedemo("winners", "--check", "--gateway-url", gateway.url)
    assert run.code == 0, run.err
    assert "raffle: 3 entries from 1 networks, 3 in the draw" in run.out
    assert "most from one network" in run.out  # all three came from loopback
    assert _winner_ids(gateway) == []


def test_redraw_never_picks_an_earlier_winner(gateway: GatewayProcess, tubedemo: Tubedemo) -> None:
    people = _seed(gateway, 7)
    seen: list[str] = []
    assert tubedemo("winners", "--count", "2", "--gateway-url", gateway.url).code == 0
    seen += _winner_ids(gateway)
    for _ in range(3):  # 2 + 2 + 2 + the last one left
        run = tubedemo("winners", "--redraw", "--count", "2", "--gateway-url", gateway.url)
        assert run.code == 0, run.err
        seen += _winner_ids(gateway)
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == set(people)
    spent = tubedemo("winners", "--redraw", "--gateway-url", gateway.url)
    assert spent.code != 0
    assert spent.err_lines == [spent.err_lines[0]]
    assert "everyone has won" in spent.err


def test_no_submissions_says_so_and_exits_non_zero(
    gateway: GatewayProcess, tubedemo: Tubedemo
) -> None:
    run = tubedemo("winners", "--gateway-url", gateway.url)
    assert run.code == 7
    assert len(run.err_lines) == 1
    assert "no survey submissions" in run.err
    assert "Traceback" not in run.err + run.out


def test_new_session_archives_everything_and_a_new_draw_sees_only_it(
    gateway: GatewayProcess, tubedemo: Tubedemo
) -> None:
    first = _seed(gateway, 6, "early")
    assert tubedemo("winners", "--count", "2", "--gateway-url", gateway.url).code == 0
    sessions_before = gateway.admin("GET", "/api/admin/sessions").json()
    run = tubedemo("session", "new", "evening talk", "--gateway-url", gateway.url)
    assert run.code == 0, run.err
    assert "archived session" in run.out and "6 submissions" in run.out
    sessions = gateway.admin("GET", "/api/admin/sessions").json()
    old = next(s for s in sessions if s["id"] == sessions_before[-1]["id"])
    assert old["archived"] is True and old["submissions"] == 6
    new = next(s for s in sessions if s["current"])
    assert new["name"] == "evening talk" and new["submissions"] == 0
    assert gateway.get("/api/survey/winners").json() == {
        "session": new["id"],
        "drawn": False,
        "winners": [],
    }
    second = _seed(gateway, 3, "late")
    draw = tubedemo("winners", "--count", "10", "--gateway-url", gateway.url)
    assert draw.code == 0, draw.err
    ids = _winner_ids(gateway)
    assert sorted(ids) == sorted(second)
    assert not set(ids) & set(first)
    listed = tubedemo("session", "list", "--gateway-url", gateway.url)
    assert listed.code == 0
    assert "evening talk" in listed.out and "archived" in listed.out and "current" in listed.out


def test_csv_export_round_trips_every_submission(
    gateway: GatewayProcess, tubedemo: Tubedemo, tmp_path: Path
) -> None:
    typed = {
        "p-0": (5, 'Quotes "R" Us, Ltd.', "Zoë O'Brien"),
        "p-1": (1, '=HYPERLINK("http://x")', "@mention"),
        "p-2": (3, "+44 Trains", "-minus"),
        "p-3": (4, "Tube & Co — 東京", None),
        "p_4": (2, "none", "Ann"),
    }
    ids = {cid: gateway.submit(cid, *values) for cid, values in typed.items()}
    gateway.submit("p-3", 2, "Tube & Co — 東京", "Changed Mind")  # resubmit updates, same id
    typed["p-3"] = (2, "Tube & Co — 東京", "Changed Mind")
    assert (
        tubedemo("winners", "--count", "2", "--seed", "9", "--gateway-url", gateway.url).code == 0
    )
    drawn = set(_winner_ids(gateway))
    out = tmp_path / "talk.csv"
    run = tubedemo("session", "export", "--csv", str(out), "--gateway-url", gateway.url)
    assert run.code == 0, run.err
    assert "5 submissions (2 winners)" in run.err
    text = out.read_text(encoding="utf-8")
    # Formula-looking cells stay inert in a spreadsheet -- the gateway's own ids too: an
    # identity id is base64url, so 1 in 64 starts with "-" and is exported as "'-..."...
    parsed = parse_export(text)
    raw = {p.client_id: r for p, r in zip(parsed, csv.DictReader(io.StringIO(text)), strict=True)}
    assert raw[gateway.identity_id("p-1")]["company"].startswith("'=")
    for client_id, r in raw.items():
        assert r["client_id"] == ("'" + client_id if client_id[:1] == "-" else client_id)
    # ...and still read back as typed.
    rows = {r.client_id: r for r in parsed}
    assert set(rows) == {gateway.identity_id(cid) for cid in typed}
    for cid, (rating, company, name) in typed.items():
        row = rows[gateway.identity_id(cid)]
        assert (row.id, row.rating, row.company, row.name) == (ids[cid], rating, company, name)
        assert (row.winner is not None) == (row.id in drawn)
    # Without --csv the same bytes go to standard output.
    piped = tubedemo("session", "export", "--gateway-url", gateway.url)
    assert piped.code == 0 and piped.out == text


def test_csv_export_writes_into_a_relative_folder_it_makes(
    gateway: GatewayProcess, tubedemo: Tubedemo, tmp_path: Path
) -> None:
    gateway.submit("p-0", 4, "Tube & Co", "Ann")
    run = tubedemo("session", "export", "--csv", "exports/talk.csv", "--gateway-url", gateway.url)
    assert run.code == 0, run.err
    (row,) = parse_export((tmp_path / "cwd" / "exports" / "talk.csv").read_text(encoding="utf-8"))
    assert (row.client_id, row.rating, row.company) == (gateway.identity_id("p-0"), 4, "Tube & Co")


def test_wrong_token_is_one_line_and_non_zero(gateway: GatewayProcess, tubedemo: Tubedemo) -> None:
    _seed(gateway, 2)
    for args in (
        ("winners",),
        ("session", "list"),
        ("session", "new"),
        ("session", "export"),
    ):
        run = tubedemo(*args, "--gateway-url", gateway.url, token="not-the-token")
        assert run.code == 7, (args, run.err)
        assert len(run.err_lines) == 1, run.err
        assert "refused the admin token" in run.err
    # Nothing changed behind the refusals.
    assert gateway.get("/api/survey/winners").json()["drawn"] is False
    assert len(gateway.admin("GET", "/api/admin/sessions").json()) == 1


def test_unreachable_gateway_is_one_line_and_non_zero(tubedemo: Tubedemo) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        for args in (("winners",), ("session", "list"), ("session", "export"), ("qr",)):
            run = tubedemo(*args, "--gateway-url", f"http://127.0.0.1:{port}")
            assert run.code == 7, (args, run.err)
            assert len(run.err_lines) == 1, run.err
            assert "cannot reach the gateway" in run.err
            assert "Traceback" not in run.err


def test_admin_token_header_is_accepted_where_authorization_cannot_pass(
    gateway: GatewayProcess,
) -> None:
    import httpx

    from tests.gateway_proc import ADMIN_TOKEN

    ok = httpx.get(
        f"{gateway.url}/api/admin/sessions", headers={"X-Tubedemo-Admin-Token": ADMIN_TOKEN}
    )
    wrong = httpx.get(f"{gateway.url}/api/admin/sessions", headers={"X-Tubedemo-Admin-Token": "x"})
    assert ok.status_code == 200 and wrong.status_code == 401
