"""Survey, winners, results, draws, sessions and the admin API on the real gateway."""

from __future__ import annotations

import csv
import io
import random
import subprocess
import sys
import time

import pytest


def submit(g, phone: str, rating: int = 5, company: str = "ACME", **extra):  # type: ignore[no-untyped-def]
    """A survey answer from the phone called `phone` (its identity, obtained as the page does)."""
    body = {"rating": rating, "company": company, **extra}
    return g.anonymous.post("/api/survey/submit", json=body, headers=g.phone(phone))


def test_config_tells_the_page_mode_session_and_limits(gateway) -> None:
    cfg = gateway.http.get("/config").json()
    assert cfg["mode"] == "quiz"
    assert cfg["session"] == gateway.gw.state.current
    assert cfg["survey"]["company_max_chars"] == 80
    assert cfg["quiz"]["max_prompt_chars"] == 500
    # the page waits for a first word as long as the gateway (gateway.answer_timeout)
    assert cfg["quiz"]["answer_timeout_s"] == gateway.gw.settings.upstream_read_timeout_s


def test_submit_outside_survey_mode_is_409(gateway) -> None:
    resp = submit(gateway, "phone-1")
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "not_survey_mode"


def test_mode_flip_is_visible_on_config_at_once(gateway) -> None:
    assert gateway.admin("POST", "/api/admin/mode", json={"mode": "survey"}).json() == {
        "old": "quiz",
        "new": "survey",
    }
    assert gateway.http.get("/config").json()["mode"] == "survey"


def test_resubmit_from_the_same_phone_updates_and_never_duplicates(survey) -> None:
    first = submit(survey, "phone-1", rating=3).json()
    second = submit(survey, "phone-1", rating=5, company="Initech").json()
    assert first["status"] == "created" and second["status"] == "updated"
    assert first["id"] == second["id"]
    results = survey.http.get("/api/survey/results").json()
    assert results["total"] == 1
    assert results["ratings"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1}
    assert results["top_companies"] == [{"company": "Initech", "count": 1}]


def test_company_is_trimmed_and_rude_words_are_masked_for_display(survey) -> None:
    submit(survey, "phone-1", company="   Shit   Corp  ")
    submit(survey, "phone-2", company="shit corp")
    submit(survey, "phone-3", company="Cockpit Ltd")
    top = survey.http.get("/api/survey/results").json()["top_companies"]
    assert top[0]["count"] == 2 and top[0]["company"].lower() == "s*** corp"
    assert top[1] == {"company": "Cockpit Ltd", "count": 1}
    exported = survey.admin("GET", "/api/admin/export.csv").text
    assert "Shit Corp" in exported  # the organiser sees what was typed


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"rating": 6, "company": "A"}, "rating"),
        ({"rating": 0, "company": "A"}, "rating"),
        ({"rating": "5", "company": "A"}, "rating"),
        ({"rating": 5, "company": "A" * 81}, "at most 80"),
        ({"rating": 5, "company": "   "}, "company"),
        ({"rating": 5, "company": "\u200b\u2060"}, "company"),
        ({"rating": 5, "company": "A", "name": "N" * 41}, "name"),
    ],
)
def test_invalid_submissions_get_a_400_naming_the_field(survey, body, fragment) -> None:  # type: ignore[no-untyped-def]
    resp = survey.http.post("/api/survey/submit", json=body)
    assert resp.status_code == 400
    assert fragment in resp.json()["error"]["message"]
    assert survey.http.get("/api/survey/results").json()["total"] == 0


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"rating": 5, "company": "\\ud800"}', "company"),
        (b'{"rating": 5, "company": "A", "name": "x\\udfff"}', "name"),
    ],
)
def test_a_lone_surrogate_is_a_400_and_the_presenter_can_still_read_everything(
    survey, raw: bytes, field: str
) -> None:
    # pydantic's JSON parser refuses it (the `field` is where it sits)  # type: ignore[no-untyped-def]
    resp = survey.anonymous.post(
        "/api/survey/submit",
        content=raw,
        headers={"content-type": "application/json", **survey.phone("surrogate")},
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "invalid_field"
    assert survey.admin("GET", "/api/admin/export.csv").status_code == 200
    assert survey.http.get("/api/survey/results").status_code == 200


def test_winners_show_only_ids_and_display_names(survey) -> None:
    ids = {submit(survey, f"phone-{i}", name=f"Person {i}").json()["id"] for i in range(5)}
    assert survey.http.get("/api/survey/winners").json()["drawn"] is False
    drawn = survey.admin("POST", "/api/admin/draw", json={"count": 2}).json()
    public = survey.http.get("/api/survey/winners").json()
    assert public["drawn"] is True
    assert [w["id"] for w in public["winners"]] == [w["id"] for w in drawn["winners"]]
    assert all(set(w) == {"id", "name"} for w in public["winners"])
    assert {w["id"] for w in public["winners"]} <= ids


def test_draw_is_seedable_recorded_and_repeatable(survey) -> None:
    for i in range(20):
        submit(survey, f"phone-{i}")
    drawn = survey.admin("POST", "/api/admin/draw", json={"count": 3, "seed": 42}).json()
    assert drawn["seed"] == 42
    record = survey.gw.state.session().draws[-1]
    # An auditor repeats the draw from the recorded eligible ids and the seed.
    assert random.Random(42).sample(record["eligible"], 3) == [w["id"] for w in drawn["winners"]]
    assert len({w["id"] for w in drawn["winners"]}) == 3
    again = survey.admin("POST", "/api/admin/draw", json={"count": 3}).json()
    assert again == drawn  # asking again without redraw shows the same winners


def test_redraw_never_repeats_an_earlier_winner(survey) -> None:
    for i in range(6):
        submit(survey, f"phone-{i}")
    seen: set[str] = set()
    for _ in range(3):
        drawn = survey.admin("POST", "/api/admin/draw", json={"count": 2, "redraw": True}).json()
        ids = {w["id"] for w in drawn["winners"]}
        assert not ids & seen
        seen |= ids
    assert len(seen) == 6
    resp = survey.admin("POST", "/api/admin/draw", json={"count": 1, "redraw": True})
    assert resp.status_code == 409
    assert "already won" in resp.json()["error"]["message"]


def test_draw_without_submissions_is_409(survey) -> None:
    resp = survey.admin("POST", "/api/admin/draw", json={"count": 1})
    assert resp.status_code == 409


def test_export_has_every_submission_and_a_winner_column(survey) -> None:
    for i in range(4):
        submit(survey, f"phone-{i}", company=f"=cmd{i}")
    drawn = survey.admin("POST", "/api/admin/draw", json={"count": 1, "seed": 7}).json()
    resp = survey.admin("GET", "/api/admin/export.csv")
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert len(rows) == 4
    winners = [r for r in rows if r["winner"]]
    assert [r["id"] for r in winners] == [drawn["winners"][0]["id"]]
    assert all(r["company"].startswith("'=") for r in rows)  # no formulas in the sheet


def test_new_session_archives_the_old_one_and_keeps_everything(survey) -> None:
    submit(survey, "phone-1")
    survey.http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "q"}]})
    old = survey.http.get("/config").json()["session"]
    new = survey.admin("POST", "/api/admin/session", json={"name": "Berlin"}).json()
    assert new["name"] == "Berlin" and new["submissions"] == 0 and new["current"]
    assert survey.http.get("/config").json()["session"] == new["id"] != old
    assert survey.http.get("/api/survey/results").json()["total"] == 0
    assert survey.admin("GET", "/api/admin/questions").json() == []
    sessions = {s["id"]: s for s in survey.admin("GET", "/api/admin/sessions").json()}
    assert sessions[old]["archived"] and sessions[old]["submissions"] == 1
    assert sessions[old]["questions"] == 1
    assert not sessions[new["id"]]["archived"]
    assert submit(survey, "phone-1").json()["status"] == "created"  # new talk, new raffle


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/admin/mode"),
        ("POST", "/api/admin/draw"),
        ("POST", "/api/admin/status"),
        ("POST", "/api/admin/session"),
        ("GET", "/api/admin/export.csv"),
        ("GET", "/api/admin/sessions"),
        ("GET", "/api/admin/questions"),
    ],
)
def test_admin_endpoints_need_the_bearer_token(gateway, method: str, path: str) -> None:
    assert gateway.http.request(method, path, json={}).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    resp = gateway.http.request(method, path, json={}, headers=wrong)
    assert resp.status_code == 401
    assert resp.json()["error"]["type"] == "authentication_error"


def test_published_status_is_served_and_goes_stale(start_gateway) -> None:
    g = start_gateway(status_stale_s=0.5)
    assert g.http.get("/api/status").json()["available"] is False
    body = {
        "queue": 7,
        "multiplier": 3,
        "virtual_commuters": 120,
        "replicas": {"ready": 2, "desired": 4, "max": 8},
        "gpu_nodes": 2,
    }
    assert g.admin("POST", "/api/admin/status", json=body).status_code == 200
    status = g.http.get("/api/status").json()
    assert status["available"] is True and status["queue"] == 7
    assert status["replicas"] == {"ready": 2, "desired": 4, "max": 8}
    time.sleep(0.6)
    assert g.http.get("/api/status").json()["available"] is False


def run_gateway(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )


@pytest.mark.parametrize("token", ["", "tubedemo-local"])
def test_gateway_refuses_to_start_without_a_real_admin_token(tmp_path, token: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "TUBEDEMO_ADMIN_TOKEN": token}
    done = run_gateway("--store", str(tmp_path), env=env)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0  # one line, no traceback
    assert "TUBEDEMO_ADMIN_TOKEN" in done.stderr


def test_bad_setting_is_one_line_naming_the_variable(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "TUBEDEMO_LOCAL": "1", "TUBEDEMO_MAX_TOKENS": "lots"}
    done = run_gateway("--store", str(tmp_path), env=env)
    assert done.returncode == 2
    assert "TUBEDEMO_MAX_TOKENS" in done.stderr and "Traceback" not in done.stderr


def test_local_mode_allows_the_default_admin_token(start_gateway) -> None:
    g = start_gateway(admin_token="", local=True)
    headers = {"Authorization": "Bearer tubedemo-local"}
    assert g.http.get("/api/admin/sessions", headers=headers).status_code == 200
