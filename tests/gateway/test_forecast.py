"""The timeline's forecast on the gateway: the conductor posts it once as steps at absolute
times, and GET /forecast (what KEDA's metrics-api trigger reads) follows them on the clock."""

from __future__ import annotations

import time

from gateway.routes.forecast import FORECAST_METRIC
from tubedemo.core.config import FORECAST_METRIC as RENDERED_METRIC


def value(gateway) -> int:
    response = gateway.anonymous.get("/forecast")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    (line,) = [x for x in response.text.splitlines() if not x.startswith("#")]
    name, number = line.split()
    assert name == FORECAST_METRIC
    return int(number)


def test_the_gauge_is_the_one_the_rendered_trigger_reads() -> None:
    assert FORECAST_METRIC == RENDERED_METRIC


def test_the_forecast_is_zero_until_the_conductor_posts_it(gateway) -> None:
    assert value(gateway) == 0


def test_the_forecast_follows_its_steps_on_the_clock_and_ends_at_the_last(gateway) -> None:
    now = time.time()
    steps = [
        {"at": now - 5, "replicas": 4},
        {"at": now + 1.0, "replicas": 2},
        {"at": now + 2.0, "replicas": 0},
    ]
    answer = gateway.admin("POST", "/api/admin/forecast", json={"steps": steps})
    assert answer.status_code == 200
    assert answer.json() == {"steps": 3, "now": 4}
    assert value(gateway) == 4
    time.sleep(max(0.0, now + 1.2 - time.time()))
    assert value(gateway) == 2
    time.sleep(max(0.0, now + 2.2 - time.time()))
    assert value(gateway) == 0


def test_a_later_post_replaces_the_forecast(gateway) -> None:
    now = time.time()
    gateway.admin("POST", "/api/admin/forecast", json={"steps": [{"at": now, "replicas": 3}]})
    assert value(gateway) == 3
    assert gateway.admin("POST", "/api/admin/forecast", json={"steps": []}).status_code == 200
    assert value(gateway) == 0


def test_only_the_presenter_posts_and_bad_steps_are_refused(gateway) -> None:
    body = {"steps": [{"at": time.time(), "replicas": 3}]}
    assert gateway.anonymous.post("/api/admin/forecast", json=body).status_code == 401
    for bad in ({"steps": [{"at": 1, "replicas": -1}]}, {"steps": "4"}, {"at": 1}):
        response = gateway.admin("POST", "/api/admin/forecast", json=bad)
        assert response.status_code == 400  # the gateway's one answer to a bad body
    assert value(gateway) == 0
