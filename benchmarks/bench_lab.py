"""Twin vs lab: the default talk through the twin (`simulate`) and through the real controllers
(the lab: KEDA, the HPA controller, Karpenter with its KWOK provider, the scheduler) at one speed,
with the same simulated load, and how well their scaling agrees.

Needs the lab's binaries (scripts/build-controlplane and scripts/build-lab, or `make test`);
without them the run stops with the lab's own message. `TUBEDEMO_BENCH_LAB_SPEED` overrides
the speed (default 10: the 40 minutes of talk and tail in about 4 minutes of wall time).
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks import Row
from tubedemo.core.config import DemoConfig
from tubedemo.rehearsal.agreement import (
    TARGET_FIRST_SCALE_UP,
    TARGET_SHARE,
    ScaleSample,
    at,
    scale_events,
    twin_samples,
)
from tubedemo.rehearsal.lab import Comparison, SessionOptions, compare, twin_at_lab_speed
from tubedemo.twin.simulate import simulate

TITLE = "Twin vs lab: the default talk's scaling, twin models against the real controllers"

NOTES = """
Both runs take the built-in default config and its load model: the timeline's k6 VUs and the
simulated audience of 150 (the lab's fleet runs the twin's `Load`, so both see the same request
stream). The twin decides with its HPA/KEDA/Karpenter models; the lab with the real KEDA
v2.20.2 (metrics-api trigger, the EKS formula, target, polling and HPA behaviour; the queue
through the real OpenTelemetry Collector 0.161.0 scraping each pod at the fleet, OTLP to the
Kedify-scaler stand-in that sums it), kube-controller-manager's HPA controller, Karpenter
v1.14.3 (KWOK provider, g5 instance types and demo.yaml prices) and kube-scheduler, KWOK stages with
`twin.startup`'s delays — every interval divided by the same speed. Karpenter's disruption
timers are Go constants the lab cannot compress (10 s poll, 15 s validation wait, 10 s
pod-event dedupe), so the twin runs with the intervals the lab really runs at
(`twin_at_lab_speed`: those timers × speed, the render's whole-second rounding undone × speed).
Samples are on the talk's clock every 15 s; "phase end" is the last sample at or before the
phase's end. The ReplicaSet breaks scale-down ties by pod UID, random in a cluster (the twin
draws UIDs from its seed), so which node empties first varies from run to run: each phase-end
row's note gives the twin's node counts over 20 seeds.
"""

SPEED = float(os.environ.get("TUBEDEMO_BENCH_LAB_SPEED", "10"))


def _nodes(sample: ScaleSample | None) -> str:
    if sample is None:
        return "-"
    kinds: dict[str, int] = {}
    for kind in sample.nodes:
        kinds[kind] = kinds.get(kind, 0) + 1
    return f"{sample.node_count} ({', '.join(f'{n}× {k}' for k, n in sorted(kinds.items()))})"


SEEDS = 20


def seed_spread(config: DemoConfig, speed: float, times: list[float]) -> list[Counter[int]]:
    """Node counts at ``times`` of the twin (at the lab's effective intervals) over SEEDS seeds."""
    cfg = twin_at_lab_speed(config, speed)
    spread: list[Counter[int]] = [Counter() for _ in times]
    for seed in range(SEEDS):
        samples = twin_samples(simulate(cfg, seed=seed))
        for counter, t in zip(spread, times, strict=True):
            sample = at(samples, t)
            counter[sample.node_count if sample else 0] += 1
    return spread


def _spread(counter: Counter[int]) -> str:
    return ", ".join(f"{n} nodes ×{k}" for n, k in sorted(counter.items(), reverse=True))


def rows(
    result: Comparison, config: DemoConfig, spread: list[Counter[int]] | None = None
) -> list[Row]:
    a = result.agreement
    gap = a.first_scale_up_gap
    out = [
        Row("speed", f"{result.speed:g}×", note="every controller interval divided by it"),
        Row(
            "lab set-up (lab start, fleet, up, first replica)",
            f"{result.setup_s:.0f} s wall",
        ),
        Row("lab run (talk + tail)", f"{result.run_s:.0f} s wall"),
        Row(
            "15 s samples with desired replicas within one",
            f"{a.share:.0%} ({a.within_one}/{a.samples})",
            f"≥ {TARGET_SHARE:.0%}",
            a.share >= TARGET_SHARE,
            note=(
                f"largest gap at {a.largest_gap[0]:.0f}s: twin {a.largest_gap[1]}, "
                f"lab {a.largest_gap[2]}"
                if a.largest_gap
                else ""
            ),
        ),
        Row(
            "first scale-up (twin / lab)",
            f"{_t(a.twin_first_scale_up)} / {_t(a.lab_first_scale_up)}",
            f"≤ {TARGET_FIRST_SCALE_UP:.0f} s apart",
            gap is not None and gap <= TARGET_FIRST_SCALE_UP,
            note="" if gap is None else f"{gap:.0f} s apart",
        ),
    ]
    for i, end in enumerate(a.phase_ends):
        out.append(
            Row(
                f"nodes at the end of {end.phase!r} ({end.time:.0f}s): twin / lab",
                f"{_nodes(at(result.twin, end.time))} / {_nodes(at(result.lab, end.time))}",
                "equal",
                end.twin_nodes == end.lab_nodes,
                note=f"twin over {SEEDS} seeds: {_spread(spread[i])}" if spread else "",
            )
        )
    for label, samples in (("twin", result.twin), ("lab", result.lab)):
        ups = [e for e in scale_events(samples) if e.what == "desired" and e.after > e.before]
        out.append(
            Row(
                f"{label}: scale-ups (time: from→to, served after)",
                "; ".join(
                    f"{e.time:.0f}s: {e.before}→{e.after}, {_t(e.served_after)}" for e in ups[:6]
                )
                or "none",
                note=f"{len(ups)} in all; max desired {max(s.desired for s in samples)}",
            )
        )
    return out


def _t(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f}s"


def run(quick: bool) -> list[Row]:
    config = DemoConfig()
    with tempfile.TemporaryDirectory(prefix="tubedemo-bench-lab-") as tmp:
        options = SessionOptions(
            speed=SPEED,
            workdir=Path(tmp) / "run",
            out_dir=Path(tmp),
        )
        result = compare(config, options, report=lambda line: print(f"  {line}", flush=True))
    spread = seed_spread(config, SPEED, [e.time for e in result.agreement.phase_ends])
    return rows(result, config, spread)
