"""Gateway: added TTFB and token throughput vs direct, survey submits, LiteLLM as the peer.

Everything runs on loopback in separate processes: the fake vLLM (`python -m
gateway.fake_vllm`), the gateway (`python -m gateway`, once per upstream client library),
LiteLLM's proxy when installed (nox's bench session installs it, pinned), and this process as
the load generator (a bounded aiohttp client on uvloop: fixed request count, fixed
concurrency, a time limit per run).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
from pathlib import Path

from benchmarks import Row
from benchmarks.gateway_load import (
    StreamStats,
    _identities,
    _post_load,
    _run,
    _steady_load,
    stream_load,
)
from benchmarks.gateway_servers import fake_vllm, gateway, litellm, litellm_binary

TITLE = "Gateway: streaming proxy and survey"

NOTES = """
Workloads (all bounded): *Steady arrival* — streams arrive at a constant 160 a second for 15 s
(twice, interleaved with the other targets), each from an address of its own, as phones ask:
~200 in flight, 20 tokens at 62 ms; "before" is the gateway with fair share off (the proxy
alone), "after" with fair share on, each stream carrying an identity obtained beforehand the
page's way; added first token = target percentile − direct percentile of the same run.
*TTFB* — 200 concurrent streams, 20 tokens each at 62 ms inter-token
latency (an A10G with Llama 3 8B at 64 concurrent streams), first token immediately; added
TTFB = gateway percentile − direct percentile of the same run; the sweep rows repeat it at
lower concurrency. *CPU per token* — user+system CPU of the process (from /proc) during the
TTFB runs divided by tokens delivered: unlike latency, it does not depend on what else the
shared machine is running. *Throughput* — 200 concurrent
streams of 200 tokens with no inter-token delay, so the machine, not the fake model, is the
limit; tokens/s summed over all streams. *Survey* — distinct client ids, 100 concurrent,
LocalStore (fsync per submission, group commit); "lost" = acknowledged submissions missing from
the journal after the gateway stopped. Baselines: direct to the fake vLLM; `/healthz` through
the same gateway for the survey rate.
"""


# Inter-token latency of one A10G serving Llama 3 8B at 64 concurrent streams (engine
# calibration, vLLM llmperf figures): what each phone's stream sees when the fleet is busy.
ITL_S = 0.062


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far: contention on a shared machine inflates
    latencies, but not the CPU a process spends per token."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _ms(x: float) -> str:
    return f"{x:.2f} ms"


CLIENTS = ("aiohttp", "httpx")
"""The gateway's upstream HTTP clients (gateway.upstream), each benchmarked."""


STEADY_RATE = 160.0
"""Streams a second: with answers of 20 tokens 62 ms apart (1.24 s), ~200 in flight."""


def _steady_rows(work: Path, seconds: float) -> list[Row]:
    """Steady arrival (~200 in flight), direct vs the gateway before (fair share off) and after
    (identities, the stream cap and fair queueing), interleaved in one run."""
    results: dict[str, list[tuple[StreamStats, int]]] = {}
    with (
        fake_vllm(tokens=20, delay_s=ITL_S) as up,
        gateway(up.url, "aiohttp", work / "store-steady-before") as before,
        gateway(
            up.url, "aiohttp", work / "store-steady-after", extra_env={"TUBEDEMO_FAIR_SHARE": "1"}
        ) as after,
    ):
        n = int(STEADY_RATE * seconds)
        targets = {
            "direct": (up.url, False),
            "gateway, before (fair share off)": (before.url, False),
            "gateway, after (fair share on)": (after.url, True),
        }
        for url, needs_identity in targets.values():  # warm-up
            tokens = _run(_identities(url, 200)) if needs_identity else None
            _run(_steady_load(url + "/v1/chat/completions", STEADY_RATE, 200 / STEADY_RATE, tokens))
        for _round in range(2):
            for name, (url, needs_identity) in targets.items():
                tokens = _run(_identities(url, n)) if needs_identity else None
                results.setdefault(name, []).append(
                    _run(_steady_load(url + "/v1/chat/completions", STEADY_RATE, seconds, tokens))
                )

    def merged(name: str) -> tuple[StreamStats, int]:
        runs = results[name]
        return (
            StreamStats(
                [x for r, _ in runs for x in r.ttfb_ms],
                sum(r.tokens for r, _ in runs),
                sum(r.seconds for r, _ in runs),
                sum(r.errors for r, _ in runs),
            ),
            max(m for _, m in runs),
        )

    direct, most = merged("direct")
    d_tput = direct.tokens / direct.seconds
    rows = [
        Row(
            f"steady arrival {STEADY_RATE:.0f}/s, direct: first token (p50 / p99)",
            f"{_ms(direct.pct(50))} / {_ms(direct.pct(99))}",
            note=f"{len(direct.ttfb_ms)} streams, {most} in flight at most, "
            f"{d_tput:,.0f} tokens/s, {direct.errors} errors",
        )
    ]
    for name in results:
        if name == "direct":
            continue
        s, most = merged(name)
        add50, add99 = s.pct(50) - direct.pct(50), s.pct(99) - direct.pct(99)
        tput = s.tokens / s.seconds
        ok = add50 <= 2 and add99 <= 10 and tput >= 0.8 * d_tput and s.errors == 0
        rows.append(
            Row(
                f"steady arrival, {name}: added first token (p50 / p99), tokens/s vs direct",
                f"{_ms(add50)} / {_ms(add99)}, {tput / d_tput:.0%}",
                "≤ 2 ms / ≤ 10 ms, ≥ 80 %",
                ok,
                f"abs {_ms(s.pct(50))} / {_ms(s.pct(99))}, {most} in flight at most, "
                f"{s.errors} errors",
            )
        )
    pre, _ = merged("gateway, before (fair share off)")
    post, _ = merged("gateway, after (fair share on)")
    rows.append(
        Row(
            "steady arrival: what fair share adds, after − before (p50 / p99)",
            f"{_ms(post.pct(50) - pre.pct(50))} / {_ms(post.pct(99) - pre.pct(99))}",
            note="identities, the stream cap and fair queueing on the honest path",
        )
    )
    return rows


def run(quick: bool = False) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    peer = litellm_binary()
    rows = _steady_rows(work, 5.0 if quick else 15.0)
    rows += _ttfb_rows(work, peer, 1000 if quick else 3000)
    rows += _throughput_rows(work, peer, 400 if quick else 1200)
    rows += _survey_rows(work, 2000 if quick else 6000)
    if not peer:
        rows.append(Row("LiteLLM proxy", "not installed", note="run through `nox -s bench`"))
    shutil.rmtree(work, ignore_errors=True)
    return rows


def _ttfb_rows(work: Path, peer: str | None, n_ttfb: int) -> list[Row]:
    """TTFB at 200 concurrent streams: direct, through each gateway client and LiteLLM; the CPU
    each spends per streamed token; where the added latency comes from (1-50 concurrent)."""
    rows: list[Row] = []
    results: dict[str, list[StreamStats]] = {}
    cpu: dict[str, float] = {}
    sweep: list[Row] = []
    with fake_vllm(tokens=20, delay_s=ITL_S) as up:
        gws = {}
        for c in CLIENTS:
            cm = gateway(up.url, c, work / f"store-ttfb-{c}")
            gws[c] = (cm, cm.__enter__())
        lit = None
        if peer:
            lit_cm = litellm(up.url, work)
            lit = (lit_cm, lit_cm.__enter__())
        try:
            urls = {"direct": up.url, **{f"gateway ({c})": gws[c][1].url for c in CLIENTS}}
            pids = {
                "direct": up.popen.pid,
                **{f"gateway ({c})": gws[c][1].popen.pid for c in CLIENTS},
            }
            if lit:
                urls["LiteLLM proxy"] = lit[1].url
                pids["LiteLLM proxy"] = lit[1].popen.pid
            for url in urls.values():
                stream_load(url, 400)  # warm-up: connections, imports, caches
            for _round in range(2):  # interleaved rounds: background load hits every target
                for name, url in urls.items():
                    before = cpu_seconds(pids[name])
                    results.setdefault(name, []).append(stream_load(url, n_ttfb // 2))
                    cpu[name] = cpu.get(name, 0.0) + cpu_seconds(pids[name]) - before
            for conc in (1, 10, 50):  # where does the added latency come from?
                d = stream_load(up.url, conc * 6, conc)
                g = stream_load(gws["aiohttp"][1].url, conc * 6, conc)
                sweep.append(
                    Row(
                        f"added TTFB at {conc} concurrent, gateway (aiohttp) (p50 / p99)",
                        f"{_ms(g.pct(50) - d.pct(50))} / {_ms(g.pct(99) - d.pct(99))}",
                        note=f"direct {_ms(d.pct(50))} / {_ms(d.pct(99))}",
                    )
                )
        finally:
            if lit:
                lit[0].__exit__(None, None, None)
            for cm, _ in gws.values():
                cm.__exit__(None, None, None)

    def merged(name: str) -> StreamStats:
        runs = results[name]
        return StreamStats(
            [x for r in runs for x in r.ttfb_ms],
            sum(r.tokens for r in runs),
            sum(r.seconds for r in runs),
            sum(r.errors for r in runs),
        )

    direct = merged("direct")
    rows.append(
        Row(
            "TTFB direct, 200 streams (p50 / p99)",
            f"{_ms(direct.pct(50))} / {_ms(direct.pct(99))}",
            note=f"{len(direct.ttfb_ms)} streams, {direct.errors} errors",
        )
    )
    for name in results:
        s = merged(name)
        per_token = cpu[name] / max(1, s.tokens) * 1e6
        who = "fake vLLM itself" if name == "direct" else name
        rows.append(
            Row(
                f"CPU per streamed token, {who}",
                f"{per_token:.0f} µs",
                note=f"{cpu[name]:.1f} CPU-s for {s.tokens:,} tokens; "
                f"~{1e6 / per_token:,.0f} tokens/s per core",
            )
        )
    for name in results:
        if name == "direct":
            continue
        s = merged(name)
        add50, add99 = s.pct(50) - direct.pct(50), s.pct(99) - direct.pct(99)
        is_gw = name.startswith("gateway")
        rows.append(
            Row(
                f"added TTFB, {name} (p50 / p99)",
                f"{_ms(add50)} / {_ms(add99)}",
                "≤ 2 ms / ≤ 10 ms" if is_gw else "",
                (add50 <= 2 and add99 <= 10 and s.errors == 0) if is_gw else None,
                f"abs {_ms(s.pct(50))} / {_ms(s.pct(99))}, {s.errors} errors",
            )
        )

    rows.extend(sweep)
    return rows


def _throughput_rows(work: Path, peer: str | None, n_tput: int) -> list[Row]:
    """Token throughput, CPU-bound (no inter-token delay): each target against direct."""
    rows: list[Row] = []
    tput: dict[str, StreamStats] = {}
    with fake_vllm(tokens=200, delay_s=0.0) as up:
        urls = {"direct": up.url}
        stack = []
        for c in CLIENTS:
            cm = gateway(up.url, c, work / f"store-tput-{c}")
            stack.append(cm)
            urls[f"gateway ({c})"] = cm.__enter__().url
        if peer:
            lcm = litellm(up.url, work)
            stack.append(lcm)
            urls["LiteLLM proxy"] = lcm.__enter__().url
        try:
            for url in urls.values():
                stream_load(url, 200)
            for _round in range(2):
                for name, url in urls.items():
                    s = stream_load(url, n_tput // 2)
                    prev = tput.get(name)
                    tput[name] = (
                        s
                        if prev is None
                        else StreamStats(
                            [],
                            prev.tokens + s.tokens,
                            prev.seconds + s.seconds,
                            prev.errors + s.errors,
                        )
                    )
        finally:
            for cm in reversed(stack):
                cm.__exit__(None, None, None)
    base = tput["direct"].tokens / tput["direct"].seconds
    rows.append(
        Row("tokens/s direct, 200 streams", f"{base:,.0f}", note=f"{tput['direct'].errors} errors")
    )
    for name, s in tput.items():
        if name == "direct":
            continue
        rate = s.tokens / s.seconds
        is_gw = name.startswith("gateway")
        rows.append(
            Row(
                f"tokens/s {name}",
                f"{rate:,.0f} ({rate / base:.0%} of direct)",
                "≥ 80 % of direct" if is_gw else "",
                (rate / base >= 0.8 and s.errors == 0) if is_gw else None,
                f"{s.errors} errors",
            )
        )
    return rows


def _survey_rows(work: Path, n_survey: int) -> list[Row]:
    """Survey submits per second on the LocalStore, against /healthz; none acknowledged lost."""
    rows: list[Row] = []
    store = work / "store-survey"
    # every submit comes from loopback: one address may enter 300 times by default (#23)
    many = {"TUBEDEMO_ENTRIES_PER_ADDRESS": "1000000"}
    with (
        fake_vllm(tokens=1, delay_s=0) as up,
        gateway(up.url, "aiohttp", store, "survey", extra_env=many) as gw,
    ):
        _run(_post_load(gw.url + "/healthz", 500, 100, None))  # warm-up
        hz_ok, hz_s, _ = _run(_post_load(gw.url + "/healthz", n_survey, 100, None))

        def body(i: int) -> bytes:
            return json.dumps(
                {"client_id": f"bench-{i}", "rating": 1 + i % 5, "company": f"Company {i % 37}"}
            ).encode()

        before = cpu_seconds(gw.popen.pid)
        ok, secs, errors = _run(_post_load(gw.url + "/api/survey/submit", n_survey, 100, body))
        submit_cpu = cpu_seconds(gw.popen.pid) - before
        total = json.loads(
            __import__("urllib.request").request.urlopen(gw.url + "/api/survey/results").read()
        )["total"]
    # The gateway has stopped; read its journal from disk.
    from gateway.store.local import LocalStore

    records = asyncio.run(LocalStore(store).load())
    on_disk = sum(r.kind == "submission" for r in records)
    rate = ok / secs
    rows.append(
        Row(
            "GET /healthz/s (baseline)", f"{hz_ok / hz_s:,.0f}", note="same gateway, 100 concurrent"
        )
    )
    rows.append(
        Row(
            "survey submits/s, LocalStore",
            f"{rate:,.0f} ({rate / (hz_ok / hz_s):.0%} of /healthz)",
            "≥ 1,000/s",
            rate >= 1000 and errors == 0,
            f"{ok} acknowledged, {errors} errors",
        )
    )
    rows.append(
        Row(
            "gateway CPU per survey submit",
            f"{submit_cpu / max(1, ok) * 1e6:.0f} µs",
            note=f"~{ok / max(submit_cpu, 1e-9):,.0f} submits/s per core if it had one to itself",
        )
    )
    lost = ok - on_disk
    rows.append(
        Row(
            "acknowledged submissions lost",
            str(lost),
            "0",
            lost == 0 and total == ok,
            f"{on_disk} in the journal after stop, /results total {total}",
        )
    )
    return rows
