"""The engine model: calibration points, Little's law, queueing, preemption, folding."""

from __future__ import annotations

import random
import statistics

import pytest

from tubedemo.core.config import config_from_dict
from tubedemo.twin.engine import Engine, EngineParams, Request


def params(**engine: object) -> EngineParams:
    return EngineParams.from_config(config_from_dict({"twin": {"engine": engine}}))


def run(engine: Engine, arrivals: list[tuple[float, Request]], until: float) -> None:
    """Drive one engine through arrivals; a tiny event loop, like the world's."""
    pending = sorted(arrivals, key=lambda a: a[0])
    i = 0
    while True:
        due = engine.next_event()
        next_arrival = pending[i][0] if i < len(pending) else None
        if next_arrival is not None and (due is None or next_arrival < due):
            engine.submit(pending[i][1], next_arrival)
            i += 1
        elif due is not None and due <= until:
            engine.complete(due)
        else:
            return


def req(n: int, prompt: int = 120, output: int = 150, t: float = 0.0) -> Request:
    return Request(id=n, prompt_tokens=prompt, output_tokens=output, sent_at=t)


def test_single_stream_matches_the_a10g_calibration() -> None:
    engine = Engine("r", params())
    r = req(1, prompt=550, output=150)
    run(engine, [(0.0, r)], 100.0)
    assert r.ttft == pytest.approx(0.137, abs=0.005)  # measured 137 ms
    itl = (r.e2e - r.ttft) / (r.output_tokens - 1)  # type: ignore[operator]
    assert itl == pytest.approx(0.0307, abs=0.001)  # measured 30.7 ms


def test_sixteen_streams_decode_at_the_measured_inter_token_latency() -> None:
    p = params()
    engine = Engine("r", EngineParams(**{**p.__dict__, "max_num_seqs": 16}))
    rs = [req(i, prompt=550, output=2000) for i in range(16)]
    run(engine, [(0.0, r) for r in rs], 10.0)  # every prefill is long done by t=10
    assert engine.gauges().running == 16
    tokens = engine.tokens_at(rs[0], 15.0) - engine.tokens_at(rs[0], 10.0)
    assert 5.0 / tokens == pytest.approx(0.0427, abs=0.001)  # measured 42.7 ms at 16


def poisson(rate: float, horizon: float, seed: int) -> list[tuple[float, Request]]:
    rng = random.Random(seed)
    t, n, out = 0.0, 0, []
    while True:
        t += rng.expovariate(rate)
        if t >= horizon:
            return out
        n += 1
        out.append((t, req(n, prompt=rng.randint(60, 180), output=rng.randint(75, 225), t=t)))


def test_steady_load_obeys_littles_law() -> None:
    engine = Engine("r", params())
    arrivals = poisson(1.2, 3000.0, seed=7)
    # Sample the gauges on a grid (what a scraper sees) and compare L with lambda x W.
    samples = []
    pending = sorted(arrivals, key=lambda a: a[0])
    i = 0
    for k in range(1, 12000):
        t = k * 0.25
        while True:
            due = engine.next_event()
            nxt = pending[i][0] if i < len(pending) else None
            if nxt is not None and nxt <= t and (due is None or nxt < due):
                engine.submit(pending[i][1], nxt)
                i += 1
            elif due is not None and due <= t:
                engine.complete(due)
            else:
                break
        if 300 <= t < 2700:
            g = engine.gauges()
            samples.append(g.waiting + g.running)
    window = [r for _, r in arrivals if 300 <= r.sent_at < 2700 and r.e2e is not None]
    lam = len(window) / 2400.0
    w = statistics.mean(r.e2e for r in window)  # type: ignore[misc]
    big_l = statistics.mean(samples)
    assert big_l == pytest.approx(lam * w, rel=0.05)
    assert big_l > 2  # a real queueing regime, not an idle engine


def test_ttft_grows_with_the_queue_ahead() -> None:
    engine = Engine("r", params())
    rs = [req(i) for i in range(40)]
    run(engine, [(0.0, r) for r in rs], 1000.0)
    ttfts = [r.ttft for r in rs]
    assert all(t is not None for t in ttfts)
    # The first batch of max_num_seqs starts at once, every later group waits longer.
    assert max(ttfts[:8]) < 1.0  # type: ignore[type-var]
    groups = [statistics.mean(ttfts[k : k + 8]) for k in range(0, 40, 8)]  # type: ignore[arg-type]
    assert groups == sorted(groups)
    assert groups[-1] > 3 * groups[1] > 0


def test_folded_macro_steps_time_every_token_like_single_steps() -> None:
    arrivals = poisson(1.5, 400.0, seed=3)
    twin = [(t, req(r.id, r.prompt_tokens, r.output_tokens, t)) for t, r in arrivals]
    folded, stepped = Engine("a", params()), Engine("b", params(), fold=False)
    run(folded, arrivals, 1000.0)
    run(stepped, twin, 1000.0)
    assert stepped.steps_done == folded.steps_done
    for (_, a), (_, b) in zip(arrivals, twin, strict=True):
        assert a.first_token_at == pytest.approx(b.first_token_at, abs=1e-9)
        assert a.finished_at == pytest.approx(b.finished_at, abs=1e-9)


def test_full_kv_cache_preempts_and_every_request_still_finishes() -> None:
    small = config_from_dict(
        {
            "model": {"max_model_len": 512, "max_num_seqs": 8},
            "twin": {"engine": {"kv_cache_tokens": 1024}},
        }
    )
    engine = Engine("r", EngineParams.from_config(small))
    rs = [req(i, prompt=100, output=300) for i in range(8)]
    peak = 0
    pending = [(0.0, r) for r in rs]
    for t, r in pending:
        engine.submit(r, t)
    while (due := engine.next_event()) is not None:
        engine.complete(due)
        peak = max(peak, engine.used_blocks)
        assert engine.used_blocks <= engine.params.kv_blocks
    assert all(r.status == "done" and r.generated == 300 for r in rs)
    assert sum(r.preemptions for r in rs) > 0
    assert peak == engine.params.kv_blocks  # preemption only when the cache is full
    assert engine.used_blocks == 0


def test_abort_frees_the_slot_for_the_next_request() -> None:
    p = params()
    engine = Engine("r", EngineParams(**{**p.__dict__, "max_num_seqs": 1}))
    first, second = req(1, output=1000), req(2)
    engine.submit(first, 0.0)
    engine.submit(second, 0.0)
    while (due := engine.next_event()) is not None and due < 2.0:
        engine.complete(due)
    assert engine.gauges().waiting == 1
    engine.abort(first, 2.0, "client gone", "aborted")
    while (due := engine.next_event()) is not None:
        engine.complete(due)
    assert first.status == "aborted"
    assert second.status == "done"
    assert second.first_token_at is not None and second.first_token_at < 2.2


def test_kv_cache_smaller_than_max_model_len_is_refused() -> None:
    from tubedemo.core.errors import TwinError

    with pytest.raises(TwinError, match="max_model_len"):
        params(kv_cache_tokens=1024)
