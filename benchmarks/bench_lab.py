"""Twin vs lab: the default talk through the twin (`simulate`) and through the real controllers
(the lab: KEDA, the HPA controller, Karpenter with its KWOK provider, the scheduler) at one speed,
with the same simulated load, and how well their scaling agrees: reactive (the default) and
proactive (`scaling.proactive: timeline`, the timeline's forecast blended into the formula).

Needs the lab's binaries (scripts/build-controlplane and scripts/build-lab, or `make test`);
without them the run stops with the lab's own message. `TUBEDEMO_BENCH_LAB_SPEED` overrides
the speed (default 10: the 40 minutes of talk and tail in about 4 minutes of wall time),
`TUBEDEMO_BENCH_LAB_CASES` the cases (default `reactive,proactive`; each its own lab runs).
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
    cheapest_types,
    fewest_desired,
    first_scale_up,
    likely,
    need_at_target,
    node_count_odds,
    scale_events,
    start_replicas,
    twin_ensemble,
)
from tubedemo.rehearsal.lab_session import SessionOptions
from tubedemo.rehearsal.twin_vs_lab import Comparison, compare

TITLE = "Twin vs lab: the default talk's scaling, twin models against the real controllers"

NOTES = """
Two cases, each with its own lab runs and twin ensemble: `reactive`, the built-in default
config (the queue alone scales), and `proactive`, the same with `scaling.proactive: timeline`
(the timeline's forecast, served by the fleet at `/forecast` on the talk's clock, blended into
the formula as max(queue, forecast x target)). Per run two more checks from issue 24: the
fewest desired replicas in 'steady' against the replicas its load needs at the formula's
target (a replica deleted there is cold-started again in front of the room), and the nodes
left at the end, which should be only the pool's cheapest type; the same two checks run over
every run of the twin's ensemble (below), as one lab run is one draw.

Both runs take the case's config and its load model: the timeline's k6 VUs and the
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

Where the HPA's 15 s rhythm falls on the talk's clock depends on when the HPA was created, and
nobody chooses it; the 'burst' ends while nodes are still turning Ready, so one sync earlier or
later moves a node across that mark. So each lab run's HPA phase is measured (its first change
of desired replicas, every change being a sync) and the twin runs at it (`twin.hpa.first_sync`):
the comparison is like for like on that clock. The HPA's is not the only one: the collector's
scrapes, KEDA's polling and the ReplicaSet's UID tie-break are random too, and two lab runs of
the same config can end a phase with different node counts. So a node count at a phase end is
held against a distribution: the twin's ensemble over 20 seeds (each with its own phase of
Karpenter's disruption loop, which is just as arbitrary) x 5 HPA phases (3-15 s), and
a lab run's count agrees when the ensemble gives it at least 10 % of the time. The note sets
each run beside the twin run at that run's HPA phase.
"""

SPEED = float(os.environ.get("TUBEDEMO_BENCH_LAB_SPEED", "10"))
RUNS = int(os.environ.get("TUBEDEMO_BENCH_LAB_RUNS", "1"))
"""Lab runs to set against the twin (each one talk + tail at SPEED)."""
KEEP = os.environ.get("TUBEDEMO_BENCH_LAB_KEEP")
"""Folder to write each run's samples to (run-N.json: twin and lab), for a closer look."""
SEEDS = range(20)
PHASES = 5
CASES = {
    "reactive": DemoConfig(),
    "proactive": DemoConfig().model_copy(
        update={"scaling": DemoConfig().scaling.model_copy(update={"proactive": "timeline"})}
    ),
}
"""The talks compared: the default (the queue alone scales) and the timeline's forecast."""
CHOSEN = [c.strip() for c in os.environ.get("TUBEDEMO_BENCH_LAB_CASES", ",".join(CASES)).split(",")]
"""The cases this run takes (TUBEDEMO_BENCH_LAB_CASES, comma-separated)."""
STEADY = "steady"
"""The phase with a steady load, where desired replicas must hold the load's need."""


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


def run_rows(case: str, i: int, result: Comparison, config: DemoConfig) -> list[Row]:
    """One lab run against the twin's own run: set-up, replicas within one, first scale-up,
    the steady phase's fewest desired replicas, the node left at the end."""
    a = result.agreement
    gap = a.first_scale_up_gap
    tag = f"{case} run {i}: " if RUNS > 1 else f"{case}: "
    out = [
        Row(
            f"{tag}lab set-up / run (wall)",
            f"{result.setup_s:.0f} s / {result.run_s:.0f} s",
            note="set-up: lab start, fleet, up, first replica; run: talk + tail",
        ),
        Row(
            f"{tag}lab's HPA phase (measured), the twin's run at it",
            "-" if result.hpa_phase is None else f"{result.hpa_phase:.1f} s of every 15 s",
            note="from the lab's first change of desired replicas",
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
    return out + steady_and_last_rows(tag, result, config)


def steady_and_last_rows(tag: str, result: Comparison, config: DemoConfig) -> list[Row]:
    """Issue 24's Done-when: in steady, desired replicas never below the steady load's need;
    the node left after the cooldown the cheapest type."""
    phase = next(p for p in config.timeline.phases if p.name == STEADY)
    need = need_at_target(config, STEADY)
    lab_low = fewest_desired(result.lab, phase.at, phase.end)
    twin_low = fewest_desired(result.twin, phase.at, phase.end)
    cheapest = cheapest_types(config)
    last = result.lab[-1] if result.lab else None
    twin_last = result.twin[-1] if result.twin else None
    return [
        Row(
            f"{tag}fewest desired replicas in {STEADY!r} (lab / twin)",
            f"{lab_low} / {twin_low}",
            f"≥ {need} (its load at target {config.scaling.target})",
            lab_low is not None and lab_low >= need,
        ),
        Row(
            f"{tag}nodes left at the end ({last.time:.0f}s): lab / twin"
            if last
            else f"{tag}nodes left at the end",
            f"{_nodes(last)} / {_nodes(twin_last)}",
            f"only {', '.join(sorted(cheapest))}",
            last is not None and bool(last.nodes) and set(last.nodes) <= cheapest,
        ),
    ]


def phase_end_rows(
    case: str, results: list[Comparison], ensemble: list[list[ScaleSample]]
) -> list[Row]:
    """Per phase end: each lab run's node count against the twin's ensemble over seeds and
    HPA phases (the target: a count the twin predicts), and against the twin run at that run's
    HPA phase."""
    ends = results[0].agreement.phase_ends
    odds = node_count_odds(ensemble, [e.time for e in ends])
    out = []
    for i, end in enumerate(ends):
        pairs = [(at(r.twin, end.time), at(r.lab, end.time)) for r in results]
        counts = [lab.node_count if lab else 0 for _, lab in pairs]
        same = sum(
            1
            for twin, lab in pairs
            if twin is not None and lab is not None and twin.node_count == lab.node_count
        )
        out.append(
            Row(
                f"{case}: nodes at the end of {end.phase!r} ({end.time:.0f}s): lab / twin ensemble",
                f"{' · '.join(_nodes(lab) for _, lab in pairs)} / {_odds(odds[i])}",
                f"each lab count ≥ {LIKELY:.0%} in the ensemble",
                all(likely(odds[i], c) for c in counts),
                note=(
                    "twin at each run's HPA phase: "
                    + " · ".join(_nodes(twin) for twin, _ in pairs)
                    + f" (equal in {same} of {len(pairs)})"
                ),
            )
        )
    return out


def ensemble_rows(case: str, config: DemoConfig, ensemble: list[list[ScaleSample]]) -> list[Row]:
    """The twin's ensemble: its first scale-ups, and issue 24's steady and last-node checks
    over every run (one lab run is one draw; the ensemble says how often a draw goes wrong)."""
    start = start_replicas(config)
    firsts = sorted(t for run in ensemble if (t := first_scale_up(run, start)) is not None)
    phase = next(p for p in config.timeline.phases if p.name == STEADY)
    need = need_at_target(config, STEADY)
    lows = [fewest_desired(run, phase.at, phase.end) for run in ensemble]
    below = sorted(low for low in lows if low is not None and low < need)
    cheapest = cheapest_types(config)
    dear = sum(1 for run in ensemble if not (run and set(run[-1].nodes) <= cheapest))
    return [
        Row(
            f"{case}: twin ensemble (20 seeds × 5 HPA phases): first scale-up",
            f"{firsts[0]:.0f}–{firsts[-1]:.0f}s" if firsts else "never",
            note=f"{len(ensemble)} runs at the lab's intervals",
        ),
        Row(
            f"{case}: twin ensemble: runs with desired below {need} in {STEADY!r}",
            f"{len(below)} of {len(ensemble)}",
            "0",
            not below,
            note=f"fewest {below[0]}" if below else "",
        ),
        Row(
            f"{case}: twin ensemble: runs ending on a node dearer than the cheapest",
            f"{dear} of {len(ensemble)}",
            "0",
            dear == 0,
        ),
    ]


def _keep(case: str, i: int, result: Comparison) -> None:
    if not KEEP:
        return
    folder = Path(KEEP)
    folder.mkdir(parents=True, exist_ok=True)
    data = {k: [asdict(s) for s in getattr(result, k)] for k in ("twin", "lab")}
    (folder / f"{case}-run-{i}.json").write_text(json.dumps(data))


def run(quick: bool) -> list[Row]:
    unknown = sorted(set(CHOSEN) - set(CASES))
    if unknown:
        raise SystemExit(
            f"TUBEDEMO_BENCH_LAB_CASES: unknown case {unknown[0]!r} (known: {', '.join(CASES)})"
        )
    rows = [Row("speed", f"{SPEED:g}×", note="every controller interval divided by it")]
    for case in CHOSEN:
        config = CASES[case]
        results = []
        for i in range(1, RUNS + 1):
            print(f"{case}, lab run {i} of {RUNS}", flush=True)
            with tempfile.TemporaryDirectory(prefix="tubedemo-bench-lab-") as tmp:
                options = SessionOptions(speed=SPEED, workdir=Path(tmp) / "run", out_dir=Path(tmp))
                result = compare(
                    config, options, report=lambda line: print(f"  {line}", flush=True)
                )
            _keep(case, i, result)
            results.append(result)
        ensemble = twin_ensemble(config, SPEED, SEEDS, PHASES)
        for i, result in enumerate(results, 1):
            rows += run_rows(case, i, result, config)
        rows += ensemble_rows(case, config, ensemble) + phase_end_rows(case, results, ensemble)
    return rows
