"""Twin vs lab: the default talk through the twin (`simulate`) and through the real controllers
(the lab: KEDA, the HPA controller, Karpenter with its KWOK provider, the scheduler) at one speed,
with the same simulated load, and how well their scaling agrees.

Needs the lab's binaries (scripts/build-controlplane and scripts/build-lab, or `make test`);
without them the run stops with the lab's own message. `TUBEDEMO_BENCH_LAB_SPEED` overrides
the speed (default 10: the 40 minutes of talk and tail in about 4 minutes of wall time).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from benchmarks import Row
from tubedemo.core.config import DemoConfig
from tubedemo.rehearsal.agreement import (
    LIKELY,
    TARGET_FIRST_SCALE_UP,
    TARGET_SHARE,
    ScaleSample,
    at,
    first_scale_up,
    likely,
    node_count_odds,
    scale_events,
)
from tubedemo.rehearsal.lab import Comparison, SessionOptions, compare, twin_ensemble

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
phase's end.

A node count at a phase end is one draw of a random quantity, in the lab as on stage: the
'burst' ends while nodes are still turning Ready, so one sync earlier or later moves a node
across the mark, and which node a scale-down empties depends on the ReplicaSet's random UID
tie-break. Where the HPA's 15 s rhythm falls on the talk's clock depends on when the HPA was
created, and nobody chooses it. So the twin's prediction of a node count is a distribution: its
ensemble runs the timeline over 20 seeds x 5 HPA phases (`twin.hpa.first_sync` 3-15 s), and a
lab run's count agrees when the ensemble gives it at least 10 % of the time. Each lab run is
also set beside the twin's own run (seed 42, the default phase).
"""

SPEED = float(os.environ.get("TUBEDEMO_BENCH_LAB_SPEED", "10"))
RUNS = int(os.environ.get("TUBEDEMO_BENCH_LAB_RUNS", "1"))
"""Lab runs to set against the twin (each one talk + tail at SPEED)."""
KEEP = os.environ.get("TUBEDEMO_BENCH_LAB_KEEP")
"""Folder to write each run's samples to (run-N.json: twin and lab), for a closer look."""
SEEDS = range(20)
PHASES = 5


def _nodes(sample: ScaleSample | None) -> str:
    if sample is None:
        return "-"
    kinds: dict[str, int] = {}
    for kind in sample.nodes:
        kinds[kind] = kinds.get(kind, 0) + 1
    return f"{sample.node_count} ({', '.join(f'{n}× {k}' for k, n in sorted(kinds.items()))})"


def _odds(odds: dict[int, float]) -> str:
    return ", ".join(f"{n} nodes {share:.0%}" for n, share in sorted(odds.items(), reverse=True))


def _t(value: float | None) -> str:
    return "never" if value is None else f"{value:.0f}s"


def run_rows(i: int, result: Comparison) -> list[Row]:
    """One lab run against the twin's own run: set-up, replicas within one, first scale-up."""
    a = result.agreement
    gap = a.first_scale_up_gap
    tag = f"run {i}: " if RUNS > 1 else ""
    out = [
        Row(
            f"{tag}lab set-up / run (wall)",
            f"{result.setup_s:.0f} s / {result.run_s:.0f} s",
            note="set-up: lab start, fleet, up, first replica; run: talk + tail",
        ),
        Row(
            f"{tag}15 s samples with desired replicas within one",
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
            f"{tag}first scale-up (twin / lab)",
            f"{_t(a.twin_first_scale_up)} / {_t(a.lab_first_scale_up)}",
            f"≤ {TARGET_FIRST_SCALE_UP:.0f} s apart",
            gap is not None and gap <= TARGET_FIRST_SCALE_UP,
            note="" if gap is None else f"{gap:.0f} s apart",
        ),
    ]
    for label, samples in (("twin", result.twin), ("lab", result.lab)):
        ups = [e for e in scale_events(samples) if e.what == "desired" and e.after > e.before]
        out.append(
            Row(
                f"{tag}{label}: scale-ups (time: from→to, served after)",
                "; ".join(
                    f"{e.time:.0f}s: {e.before}→{e.after}, {_t(e.served_after)}" for e in ups[:6]
                )
                or "none",
                note=f"{len(ups)} in all; max desired {max(s.desired for s in samples)}",
            )
        )
    return out


def phase_end_rows(results: list[Comparison], ensemble: list[list[ScaleSample]]) -> list[Row]:
    """Per phase end: each lab run's node count against the twin's ensemble (and own run)."""
    ends = results[0].agreement.phase_ends
    odds = node_count_odds(ensemble, [e.time for e in ends])
    out = []
    for i, end in enumerate(ends):
        labs = [at(r.lab, end.time) for r in results]
        counts = [s.node_count if s else 0 for s in labs]
        same = sum(
            1
            for r in results
            for e in r.agreement.phase_ends
            if e.time == end.time and e.twin_nodes == e.lab_nodes
        )
        out.append(
            Row(
                f"nodes at the end of {end.phase!r} ({end.time:.0f}s): lab / twin ensemble",
                f"{' · '.join(_nodes(s) for s in labs)} / {_odds(odds[i])}",
                f"each lab count ≥ {LIKELY:.0%} in the ensemble",
                all(likely(odds[i], c) for c in counts),
                note=(
                    f"twin's own run {_nodes(at(results[0].twin, end.time))}; equal to it in "
                    f"{same} of {len(results)} lab run(s)"
                ),
            )
        )
    return out


def ensemble_rows(ensemble: list[list[ScaleSample]]) -> list[Row]:
    firsts = sorted(t for run in ensemble if (t := first_scale_up(run)) is not None)
    return [
        Row(
            "twin ensemble (20 seeds × 5 HPA phases): first scale-up",
            f"{firsts[0]:.0f}–{firsts[-1]:.0f}s" if firsts else "never",
            note=f"{len(ensemble)} runs at the lab's intervals",
        )
    ]


def _keep(i: int, result: Comparison) -> None:
    if not KEEP:
        return
    folder = Path(KEEP)
    folder.mkdir(parents=True, exist_ok=True)
    data = {k: [asdict(s) for s in getattr(result, k)] for k in ("twin", "lab")}
    (folder / f"run-{i}.json").write_text(json.dumps(data))


def run(quick: bool) -> list[Row]:
    config = DemoConfig()
    results = []
    for i in range(1, RUNS + 1):
        with tempfile.TemporaryDirectory(prefix="tubedemo-bench-lab-") as tmp:
            options = SessionOptions(speed=SPEED, workdir=Path(tmp) / "run", out_dir=Path(tmp))
            result = compare(config, options, report=lambda line: print(f"  {line}", flush=True))
        _keep(i, result)
        results.append(result)
    ensemble = twin_ensemble(config, SPEED, SEEDS, PHASES)
    rows = [Row("speed", f"{SPEED:g}×", note="every controller interval divided by it")]
    for i, result in enumerate(results, 1):
        rows += run_rows(i, result)
    return rows + ensemble_rows(ensemble) + phase_end_rows(results, ensemble)
