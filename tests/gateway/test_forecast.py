"""The timeline's forecast on the gateway: the conductor posts it once as steps at absolute
times, and GET /forecast (what KEDA's metrics-api trigger reads) follows them on the clock."""

from __future__ import annotations

import time

from gateway.routes.forecast import FORECAST_METRIC, WARM_CAPACITY_METRIC
from tests.conftest import wait_until
from tests.gateway.conftest import ADMIN_TOKEN
from tubedemo.audience.gateway_client import GatewayClient, direct_route
from tubedemo.core.config import FORECAST_METRIC as RENDERED_METRIC
from tubedemo.core.config import WARM_CAPACITY_METRIC as RENDERED_WARM_METRIC
from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.talk.forecast_feed import ForecastFeed, forecast_posts
from tubedemo.twin.forecast import forecast_schedule, warm_schedule


def value(gateway, metric: str = FORECAST_METRIC) -> int:
    response = gateway.anonymous.get("/forecast")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    gauges = dict(x.split() for x in response.text.splitlines() if not x.startswith("#"))
    assert set(gauges) == {FORECAST_METRIC, WARM_CAPACITY_METRIC}
    return int(gauges[metric])


def warm(gateway) -> int:
    return value(gateway, WARM_CAPACITY_METRIC)


def test_the_gauges_are_the_ones_the_rendered_triggers_read() -> None:
    assert FORECAST_METRIC == RENDERED_METRIC
    assert WARM_CAPACITY_METRIC == RENDERED_WARM_METRIC


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
    assert answer.json() == {"steps": 3, "now": 4, "warm_now": 0}
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


def proactive_config() -> DemoConfig:
    """The default talk, scaled proactively (its forecast: 4, 2, 1, then 0)."""
    return config_from_dict({"scaling": {"proactive": "timeline"}})


def test_the_show_posts_the_forecast_now_and_each_later_step_at_its_speed() -> None:
    schedule = forecast_schedule(proactive_config())
    # the default talk: 4 from the start (the burst's lead), 2 from 4m (steady), 1 from 10m
    assert [(s.start, s.replicas) for s in schedule][:3] == [(0.0, 4), (240.0, 2), (600.0, 1)]
    posts = forecast_posts(schedule, talk_now=300.0, unix_now=1000.0, speed=10.0, paused=False)
    assert posts[0] == (1000.0, 2)  # steady now
    assert posts[1] == (1030.0, 1)  # cooldown 300 talk seconds later, 30 s at 10x
    assert posts[-1][1] == 0
    # paused: the value now, held
    assert forecast_posts(schedule, 300.0, 1000.0, 10.0, paused=True) == [(1000.0, 2)]


def test_the_shows_forecast_feed_keeps_the_gateways_forecast_on_the_talks_clock(gateway) -> None:
    client = GatewayClient(direct_route(gateway.url, ADMIN_TOKEN))
    # at 120x, steady (4m) comes 2 s after the show starts
    feed = ForecastFeed(proactive_config(), client, speed=120.0)
    assert feed.post(talk_now=0.0, paused=False) == 4
    assert value(gateway) == 4
    wait_until("steady's forecast", lambda: value(gateway) == 2, timeout=10)
    assert feed.post(talk_now=300.0, paused=True) == 2
    time.sleep(3)  # cooldown would be 2.5 s later at 120x: held while paused
    assert value(gateway) == 2
    feed.clear()
    assert value(gateway) == 0
    client.close()


def test_the_warm_capacity_follows_its_own_steps_beside_the_forecast(gateway) -> None:
    now = time.time()
    body = {
        "steps": [{"at": now - 5, "replicas": 4}],
        "warm": [{"at": now - 5, "replicas": 2}, {"at": now + 1.0, "replicas": 0}],
    }
    answer = gateway.admin("POST", "/api/admin/forecast", json=body)
    assert answer.status_code == 200
    assert answer.json() == {"steps": 1, "now": 4, "warm_now": 2}
    assert (value(gateway), warm(gateway)) == (4, 2)
    time.sleep(max(0.0, now + 1.2 - time.time()))
    assert (value(gateway), warm(gateway)) == (4, 0)
    bad = {"steps": [], "warm": [{"at": now, "replicas": -2}]}
    assert gateway.admin("POST", "/api/admin/forecast", json=bad).status_code == 400


def warm_config() -> DemoConfig:
    """The default talk, reactive, with two placeholders from a minute before the burst (1m) to
    the end of steady (10m)."""
    return config_from_dict(
        {"scaling": {"warm_capacity": {"replicas": 2, "lead": 60, "until": "steady"}}}
    )


def test_the_warm_window_is_the_placeholders_from_lead_before_the_burst_to_until() -> None:
    assert [(s.start, s.replicas) for s in warm_schedule(warm_config())] == [
        (0.0, 0),
        (60.0, 2),
        (600.0, 0),
    ]
    assert warm_schedule(DemoConfig()) == []


def test_the_shows_feed_keeps_the_warm_capacity_on_the_talks_clock(gateway) -> None:
    client = GatewayClient(direct_route(gateway.url, ADMIN_TOKEN))
    # at 20x the window opens 3 s after the show starts; reactive: no forecast posted
    feed = ForecastFeed(warm_config(), client, speed=20.0)
    assert feed.post(talk_now=0.0, paused=False) == 0
    assert (value(gateway), warm(gateway)) == (0, 0)
    wait_until("the warm window open", lambda: warm(gateway) == 2, timeout=10)
    assert value(gateway) == 0
    feed.post(talk_now=540.0, paused=False)  # the end of steady 3 s at 20x from now
    assert warm(gateway) == 2
    wait_until("the warm window closed", lambda: warm(gateway) == 0, timeout=10)
    feed.post(talk_now=300.0, paused=True)
    assert warm(gateway) == 2
    feed.clear()
    assert warm(gateway) == 0
    client.close()
