"""A hostile room against the real gateway: every finding of issue 23 that a request can show.

Phones are distinct X-Forwarded-For addresses through the trusted loopback proxy (what the ALB
adds); a "venue NAT" is many phones on one address. Identities are obtained as the page does.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from gateway.fake_vllm import FakeVLLM
from gateway.identity import load_token
from gateway.limits import room_burst
from tests.conftest import wait_until
from tests.gateway.conftest import ADMIN_TOKEN
from tests.gateway.identities import IDENTITY
from tubedemo.core.config import config_from_dict

USER = [{"role": "user", "content": "Which line is the deepest?"}]


def from_address(address: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    return {"X-Forwarded-For": address, **(headers or {})}


def identity_at(g, address: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    return g.anonymous.post("/api/identity", headers=from_address(address))


def ask(g, headers: dict[str, str], body: object = None) -> httpx.Response:  # type: ignore[no-untyped-def]
    payload = {"messages": USER} if body is None else body
    return g.anonymous.post("/v1/chat/completions", json=payload, headers=headers)


STREAM = {"messages": USER, "stream": True}


# ------------------------------------------------------------------ identities


def test_an_identity_the_phone_made_up_is_refused(gateway, fake_vllm: FakeVLLM) -> None:
    for made_up in ("phone-1", "a" * 22 + ".s.1.mac", gateway.phone("real")[IDENTITY] + "x"):
        resp = ask(gateway, {IDENTITY: made_up})
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "identity_required"
    assert ask(gateway, {"X-Client-Id": "fresh-id-per-request"}).status_code == 401
    assert fake_vllm.requests == []


def test_rotating_self_made_ids_get_nothing_through(start_gateway, fake_vllm: FakeVLLM) -> None:
    g = start_gateway(rate_chat_per_min=6)
    codes = [ask(g, {"X-Client-Id": f"rotating-{i}"}).status_code for i in range(50)]
    assert codes == [401] * 50 and fake_vllm.requests == []


def test_identities_are_issued_at_a_bounded_rate_per_address(start_gateway) -> None:
    g = start_gateway(identity_burst=3, identity_per_min=1)
    codes = [identity_at(g, "203.0.113.7").status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    refused = identity_at(g, "203.0.113.7")
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["code"] == "identity_rate_limited"
    assert identity_at(g, "198.51.100.2").status_code == 200  # another address: its own budget


def test_one_address_gets_the_room_plus_ten_percent_identities_at_once_by_default(
    start_gateway,
) -> None:  # type: ignore[no-untyped-def]
    # measured (nox -s bench -- abuse): with 300 at once (twice the room) a script behind the
    # venue NAT took the 157 the room left and held a stream with each
    g = start_gateway(identity_burst=None, room_size=10, identity_per_min=1)
    codes = [identity_at(g, "192.0.2.77").status_code for _ in range(12)]
    assert codes == [200] * 11 + [429]


def test_the_rendered_identity_burst_is_the_gateways_own_default() -> None:
    for room in (None, 37):
        cfg = config_from_dict({"profile": "eks", "gateway": {"fair_share": {"room_size": room}}})
        env = cfg.fair_share_env()
        burst = room_burst(int(env["TUBEDEMO_ROOM_SIZE"]))
        assert env["TUBEDEMO_IDENTITY_BURST"] == str(burst)
    assert room_burst(150) == 165


def test_an_ipv6_address_counts_as_its_whole_64(start_gateway) -> None:
    g = start_gateway(identity_burst=2, identity_per_min=1)
    codes = [identity_at(g, f"2001:db8:1:2::{i:x}").status_code for i in range(1, 5)]
    assert codes == [200, 200, 429, 429]
    assert identity_at(g, "2001:db8:1:3::1").status_code == 200


def test_an_identity_of_an_earlier_talk_session_asks_for_a_new_one(gateway) -> None:
    old = gateway.phone("phone")
    gateway.admin("POST", "/api/admin/session", json={"name": "next talk"})
    resp = ask(gateway, old)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "identity_expired"
    assert "identity_expired" in resp.headers["www-authenticate"]
    assert ask(gateway, gateway.phone("phone")).status_code == 200


def test_the_load_credential_is_derived_from_the_admin_token_and_needs_no_identity(
    start_gateway, fake_vllm: FakeVLLM
) -> None:
    g = start_gateway(rate_chat_per_min=1, rate_address_per_min=1, identity_burst=1)
    load = {"Authorization": f"Bearer {load_token(ADMIN_TOKEN)}"}
    assert [ask(g, load).status_code for _ in range(5)] == [200] * 5
    assert g.admin("GET", "/api/admin/questions").json() == []  # load is never a question
    minted = [g.anonymous.post("/api/identity", headers=load).status_code for _ in range(5)]
    assert minted == [200] * 5  # the rehearsal's simulated room obtains its identities so
    assert ask(g, {"Authorization": "Bearer not-the-load-token"}).status_code == 401
    assert ask(g, {"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 401


# ------------------------------------------------------------------ streams


def the_room_opens_the_page(g, people: int) -> None:  # type: ignore[no-untyped-def]
    """`people` phones load the page, each from its own address: the gateway sees the room."""
    for i in range(people):
        g.anonymous.get("/config", headers=from_address(f"198.51.100.{i}"))


def phones_on_one_address(g, address: str, n: int) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    """The headers of `n` phones behind one address (one laptop), each with its own identity."""
    return [
        from_address(address, {IDENTITY: identity_at(g, address).json()["token"]}) for _ in range(n)
    ]


def slow_answers(fake: FakeVLLM) -> None:
    fake.tokens, fake.delay_s = 40, 0.05  # two seconds per answer


def test_one_identity_holds_one_stream(gateway, fake_vllm: FakeVLLM) -> None:
    # The phone stays on its first answer until it leaves the `with`: the chunk iterator is
    # kept, because an abandoned `next(r.iter_raw())` closes the connection whenever the
    # garbage collector finalises it (the phone left at a random moment, and under
    # `pytest -n 3` the second question sometimes found the stream given back: 200, not 429).
    # The answer outlasts the test, so a slow machine cannot see it end on its own either.
    fake_vllm.tokens, fake_vllm.delay_s = 10_000, 0.01  # a 100 s answer
    phone = gateway.phone("phone")
    with gateway.anonymous.stream("POST", "/v1/chat/completions", json=STREAM, headers=phone) as r:
        chunks = r.iter_raw()
        assert r.status_code == 200 and next(chunks).startswith(b"data: ")
        second = ask(gateway, phone)
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "stream_in_flight"
    wait_until("the phone's stream is given back", lambda: not gateway.gw.gate.holders)
    fake_vllm.tokens, fake_vllm.delay_s = 4, 0.0
    assert ask(gateway, phone).status_code == 200


def test_streams_beyond_the_fleet_wait_for_a_slot_and_the_wait_is_bounded(
    start_gateway, fake_vllm: FakeVLLM
) -> None:
    slow_answers(fake_vllm)
    g = start_gateway(max_streams=2, stream_queue_timeout_s=0.5)
    phones = [g.phone(f"p{i}") for i in range(3)]
    with ThreadPoolExecutor(3) as pool:
        codes = sorted(pool.map(lambda h: ask(g, h, STREAM).status_code, phones))
    assert codes == [200, 200, 503]
    assert len(fake_vllm.requests) == 2  # the third never reached the model server


def test_one_laptop_on_its_own_address_holds_at_most_its_floor_once_the_room_is_here(
    start_gateway, fake_vllm: FakeVLLM
) -> None:
    slow_answers(fake_vllm)
    g = start_gateway(max_streams=20, room_size=10, stream_queue_timeout_s=0.3)
    the_room_opens_the_page(g, people=10)
    bots = phones_on_one_address(g, "203.0.113.7", 12)
    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(lambda h: ask(g, h, STREAM).status_code, bots))
    assert codes.count(200) == 2  # 10 % of 20 slots; the rest waited and were refused
    assert codes.count(503) == 10


def test_a_venue_nat_with_the_room_behind_it_is_not_held_to_the_floor(
    start_gateway, fake_vllm: FakeVLLM
) -> None:
    slow_answers(fake_vllm)
    g = start_gateway(max_streams=20, room_size=10, stream_queue_timeout_s=0.3)
    phones = [{IDENTITY: identity_at(g, "192.0.2.1").json()["token"]} for _ in range(12)]
    nat = [from_address("192.0.2.1", p) for p in phones]
    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(lambda h: ask(g, h, STREAM).status_code, nat))
    assert codes == [200] * 12


# ------------------------------------------------------------------ bad input


def test_every_role_counts_against_the_prompt_cap(start_gateway, fake_vllm: FakeVLLM) -> None:
    g = start_gateway(max_prompt_chars=500)
    stuffed = [{"role": "assistant", "content": "x" * 3900}] * 15 + USER
    resp = ask(g, g.phone("p"), {"messages": stuffed})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "prompt_too_long"
    assert fake_vllm.requests == []


def test_a_lone_surrogate_in_a_question_is_a_400_and_the_question_list_keeps_working(
    gateway, fake_vllm: FakeVLLM
) -> None:
    raw = b'{"messages": [{"role": "user", "content": "mind the \\ud800 gap"}]}'
    resp = gateway.anonymous.post(
        "/v1/chat/completions", content=raw,
        headers={"content-type": "application/json", **gateway.phone("p")},
    )  # fmt: skip
    assert resp.status_code == 400
    assert ask(gateway, gateway.phone("q")).status_code == 200
    questions = gateway.admin("GET", "/api/admin/questions")
    assert questions.status_code == 200 and [q["text"] for q in questions.json()] == [
        USER[0]["content"]
    ]


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/api/survey/submit", "/api/admin/mode"])
def test_json_nested_thirty_thousand_deep_is_a_400(survey, path: str) -> None:
    raw = b"[" * 30_000 + b"]" * 30_000
    headers = {"content-type": "application/json", **survey.phone("p")}
    headers["Authorization"] = f"Bearer {ADMIN_TOKEN}"
    resp = survey.anonymous.post(path, content=raw, headers=headers)
    assert resp.status_code == 400, resp.text[:200]


def test_phones_never_see_the_model_servers_address(start_gateway) -> None:
    g = start_gateway(upstream="http://127.0.0.1:9")  # nothing listens there
    resp = ask(g, g.phone("p"), {"messages": USER, "stream": True})
    assert resp.status_code == 503
    text = resp.text
    assert "127.0.0.1" not in text and ":9" not in text and "Connect" not in text
    assert resp.json()["error"]["code"] == "upstream_unavailable"


def test_readyz_does_not_publish_where_the_answers_live(gateway) -> None:
    body = gateway.anonymous.get("/readyz").json()
    assert body["store"] == {"kind": "local"}
    assert str(gateway.gw.settings.store) not in json.dumps(body)


# ------------------------------------------------------------------ the raffle


def submit_at(g, address: str, company: str, name: str | None = None) -> httpx.Response:  # type: ignore[no-untyped-def]
    token = identity_at(g, address).json()["token"]
    body = {"rating": 5, "company": company, "name": name}
    return g.anonymous.post(
        "/api/survey/submit", json=body, headers=from_address(address, {IDENTITY: token})
    )


@pytest.fixture
def raffle(start_gateway):  # type: ignore[no-untyped-def]
    g = start_gateway(room_size=20, entries_per_address=40, mode="survey")
    for i in range(20):  # the room, each phone on its own address
        assert (
            submit_at(g, f"198.51.100.{i}", "Transport for London", f"Rider {i}").status_code == 200
        )
    return g


def test_one_address_stuffing_the_raffle_keeps_five_entries_in_the_draw(raffle) -> None:
    codes = [submit_at(raffle, "203.0.113.7", "BOT CORP", "bot").status_code for _ in range(45)]
    assert codes == [200] * 40 + [429] * 5  # entries_per_address, then refused
    summary = raffle.admin("GET", "/api/admin/raffle").json()
    assert summary["entries"] == 60 and summary["eligible"] == 25
    assert summary["largest"][0]["entries"] == 40 and summary["largest"][0]["eligible"] == 5
    drawn = raffle.admin("POST", "/api/admin/draw", json={"count": 25, "seed": 3}).json()
    assert sum(w["name"] == "bot" for w in drawn["winners"]) == 5
    assert drawn["eligible"] == 25 and drawn["entries"] == 60


def test_one_address_cannot_choose_the_top_companies(raffle) -> None:
    for _ in range(40):
        submit_at(raffle, "203.0.113.7", "BOT CORP")
    top = raffle.http.get("/api/survey/results").json()["top_companies"]
    assert top[0] == {"company": "Transport for London", "count": 20}
    assert top[1] == {"company": "BOT CORP", "count": 5}


def test_a_venue_nat_keeps_the_whole_room_in_the_draw(start_gateway) -> None:
    g = start_gateway(room_size=20, mode="survey")
    for i in range(20):
        assert submit_at(g, "192.0.2.1", "ACME", f"Rider {i}").status_code == 200
    summary = g.admin("GET", "/api/admin/raffle").json()
    assert (summary["entries"], summary["eligible"], summary["origins"]) == (20, 20, 1)


def test_the_reveal_shows_masked_names_and_the_export_what_was_typed(start_gateway) -> None:
    g = start_gateway(mode="survey")
    submit_at(g, "198.51.100.1", "ѕhit Ltd", "f u c k")
    drawn = g.admin("POST", "/api/admin/draw", json={"count": 1}).json()
    assert drawn["winners"][0]["name"] == "f * * *"
    assert drawn["winners"][0]["company"] == "ѕ*** Ltd"
    assert g.anonymous.get("/api/survey/winners").json()["winners"][0]["name"] == "f * * *"
    assert "ѕhit Ltd" in g.admin("GET", "/api/admin/export.csv").text


# ------------------------------------------------------------------ memory


def test_a_session_keeps_at_most_max_questions(start_gateway) -> None:
    g = start_gateway(max_questions=3, questions_per_person=5)
    phone = g.phone("p")
    for i in range(6):
        ask(g, phone, {"messages": [{"role": "user", "content": f"q{i}"}]})
    wait_until("questions stored", lambda: g.gw.store.describe()["saved"] >= 5)
    assert [q["text"] for q in g.admin("GET", "/api/admin/questions").json()] == ["q0", "q1", "q2"]


def test_an_identity_counts_questions_per_person_however_often_it_says_counted(
    start_gateway,
) -> None:
    g = start_gateway(questions_per_person=1)
    phone = g.phone("p")
    for i in range(4):
        ask(
            g,
            {**phone, "X-Tubedemo-Counted": "true"},
            {"messages": [{"role": "user", "content": f"q{i}"}]},
        )
    assert len(g.admin("GET", "/api/admin/questions").json()) == 1


def test_a_session_keeps_at_most_max_submissions(start_gateway) -> None:
    g = start_gateway(max_submissions=3, mode="survey")
    codes = [submit_at(g, f"198.51.100.{i}", "ACME").status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]


# ------------------------------------------------------------------ headers


def test_the_page_and_the_api_send_security_headers(gateway) -> None:
    for path in ("/", "/config"):
        headers = gateway.anonymous.get(path).headers
        assert "default-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


# ------------------------------------------------------------------ the model server's key


def test_the_gateway_sends_the_model_servers_api_key_and_a_refusal_is_not_the_phones_fault(
    start_gateway, fake_vllm: FakeVLLM
) -> None:
    fake_vllm.api_key = "vllm-key-from-the-secret"
    for client in ("aiohttp", "httpx"):
        keyed = start_gateway(upstream_api_key="vllm-key-from-the-secret", upstream_client=client)
        assert ask(keyed, keyed.phone("a")).status_code == 200
        assert keyed.anonymous.get("/v1/models").status_code == 200
    assert fake_vllm.unauthorized == 0
    unkeyed = start_gateway()
    refused = ask(unkeyed, unkeyed.phone("b"))
    assert refused.status_code == 502, "a 401 would send the page to fetch a new identity"
    assert "vllm-key" not in refused.text
    assert fake_vllm.unauthorized == 1


def test_the_presenter_sees_who_holds_the_fleets_slots_without_their_addresses(
    start_gateway, fake_vllm: FakeVLLM
) -> None:
    slow_answers(fake_vllm)
    g = start_gateway(max_streams=10, room_size=10, address_share_floor=0.2)
    the_room_opens_the_page(g, people=10)
    laptop = phones_on_one_address(g, "203.0.113.9", 6)
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(ask, g, h, STREAM) for h in laptop]
        wait_until("two streams in flight", lambda: g.gw.gate.in_flight >= 2, timeout=5)
        view = g.admin("GET", "/api/admin/streams").json()
        for f in futures:
            f.result()
    assert view["capacity"] == 10 and view["in_flight"] == 2
    (top,) = view["largest"]
    assert top == {"origin": g.gw.origin("203.0.113.9"), "in_flight": 2, "may_hold": 2}
    assert "203.0.113" not in json.dumps(view)


def test_a_script_behind_the_venue_nat_cannot_spend_the_rooms_address_ceiling(
    start_gateway, fake_vllm: FakeVLLM
) -> None:
    # measured (nox -s bench -- abuse): with one ceiling per address, the script's requests
    # used it up and 68 of 150 phones behind the same NAT were refused
    g = start_gateway(rate_address_per_min=5, rate_chat_per_min=1000)
    nat = "192.0.2.77"
    script = from_address(nat, {IDENTITY: identity_at(g, nat).json()["token"]})
    assert [ask(g, script).status_code for _ in range(10)] == [200] * 10
    phone = from_address(nat, {IDENTITY: identity_at(g, nat).json()["token"]})
    assert ask(g, phone).status_code == 200
    # without an identity (fair share off) the address's ceiling still holds
    off = start_gateway(fair_share=False, rate_address_per_min=2)
    assert [ask(off, from_address(nat)).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize(
    "disguised", ["/%6Detrics", "/read%79z", "/openapi%2Ejson", "/api/%61dmin/questions"]
)
def test_what_the_load_balancer_refuses_is_not_reachable_percent_encoded(
    gateway, disguised: str
) -> None:
    # the ALB matches the path as sent; the server decodes it before routing
    resp = gateway.anonymous.get(disguised, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert resp.status_code == 404
    assert gateway.anonymous.get("/metrics").status_code == 200  # in the cluster, as before
    assert gateway.admin("GET", "/api/admin/questions").status_code == 200
