"""The Kedify OTEL scaler's metricQuery as its parser reads it: what the lab's stand-in answers."""

from __future__ import annotations

import pytest

from tubedemo.core.config import DemoConfig
from tubedemo.core.metric_query import parse


def test_every_rendered_query_parses_to_its_metric_matchers_and_selector() -> None:
    queries = DemoConfig().scaling.trigger_queries
    parsed = {name: parse(q) for name, q in queries.items()}
    assert parsed["queue"].aggregation == "sum"
    assert parsed["queue"].selector == "vllm_num_requests_waiting"
    beat = parsed["collectors"]
    assert (beat.aggregation, beat.metric) == ("count", "up")
    assert beat.selector == 'up{tubedemo_heartbeat="collector"}'


def test_folding_matches_kedifys_store_a_series_lacking_a_label_still_matches() -> None:
    q = parse("sum(vllm_num_requests_waiting{model_name=m,engine=0})")
    assert q.matches({"model_name": "m", "pod": "a"})  # no engine label: still a match
    assert not q.matches({"model_name": "other"})
    assert q.fold([2, 3]) == 5
    assert parse("count(up)").fold([0.0, 1.0, 1.0]) == 3  # a series counts whatever it says
    assert parse("max(x)").fold([2, 7]) == 7 and parse("avg(x)").fold([2, 4]) == 3
    assert parse("vllm_num_requests_waiting").aggregation == "sum"
    assert parse("sum(x)").fold([]) == 0  # stale or never seen: 0, not an error


@pytest.mark.parametrize("bad", ["sum(x{a!=b})", "rate(x)", "sum(x", "sum(x{a=~b})"])
def test_what_kedifys_parser_does_not_take_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="metricQuery"):
        parse(bad)
