"""The report's one self-contained HTML page: the summary table, every chart inlined as
base64 (so it can be mailed or attached to a blog post as one file), the events."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from tubedemo.core.durations import clock_face_rounded
from tubedemo.screen.report.data import K6Series, Summary
from tubedemo.telemetry.quantiles import quantile
from tubedemo.telemetry.snapshot import Interruption, Snapshot


def _fmt(value: float | None, unit: str = "s", digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f} {unit}".strip()


def _times(values: Sequence[float], what: str, none: str) -> str:
    if not values:
        return none
    if len(values) <= 4:
        return ", ".join(f"{x:.0f} s" for x in values)
    median = quantile(values, 0.5)  # the one rule: a launch that happened, as p50 everywhere
    return (
        f"{len(values)} {what}: min {min(values):.0f} s, median {median:.0f} s, "
        f"max {max(values):.0f} s"
    )


def _interruption_row(notice: Interruption) -> tuple[str, str]:
    """A spot interruption against its notice: the drain, the replacement serving, the node."""

    def after(seconds: float | None, what: str) -> str:
        return f"{what} {seconds:.0f} s after" if seconds is not None else f"not {what}"

    back = notice.replaced_s
    verdict = ""
    if back is not None:
        verdict = " (inside the notice)" if back <= notice.notice_s else " (after the notice)"
    return (
        f"Spot interruption of {notice.node} ({notice.instance_type})",
        f"{notice.notice_s:.0f} s notice, {notice.pods} vLLM pod(s) on it; "
        f"{after(notice.drained_s, 'drained')}, {after(back, 'a replacement serving')}{verdict}, "
        f"{after(notice.gone_s, 'the node gone')}",
    )


def _summary_rows(sm: Summary, k: K6Series | None) -> list[tuple[str, str]]:
    launches = sorted(sm.node_launch_s)
    startups = sorted(sm.pod_startup_s)
    rows = [
        ("Recording length", clock_face_rounded(sm.duration_s)),
        (
            "Peak queue",
            f"{sm.peak_queue} waiting"
            + (
                f" at {clock_face_rounded(sm.peak_queue_at_s)}"
                if sm.peak_queue_at_s is not None
                else ""
            ),
        ),
        ("Peak virtual commuters", f"{sm.peak_commuters:,}"),
        ("Max replicas", f"{sm.max_replicas_desired} desired, {sm.max_replicas_ready} ready"),
        ("First queue → first new replica ready", _fmt(sm.first_queue_to_new_replica_s)),
        ("GPU node launch (NodeClaim → Ready)", _times(launches, "nodes", "no new nodes")),
        (
            "Pod start-up (scheduled → Ready)",
            f"min {startups[0]:.0f} s, max {startups[-1]:.0f} s ({len(startups)} pods)"
            if startups
            else "no new pods",
        ),
        *(_interruption_row(i) for i in sm.interruptions),
        ("Worst TTFT p95 (vLLM)", _fmt(sm.ttft_p95_max_s, "s", 2)),
        ("GPU node-hours", f"{sm.gpu_node_hours:.2f}"),
        ("Total GPU cost", f"${sm.total_cost:.2f}"),
    ]
    if k is not None:
        failed = f"{k.failed} ({k.failed / k.requests:.1%})" if k.requests else str(k.failed)
        rows += [
            ("k6 requests", f"{k.requests:,}, failed {failed}"),
            (
                "Client first byte p50 / p95 (k6, talk time)",
                f"{_fmt(k.ttft_p50_all_s, 's', 2)} / {_fmt(k.ttft_p95_all_s, 's', 2)}",
            ),
        ]
    return rows


def page(
    recording: Path,
    snapshots: Sequence[Snapshot],
    sm: Summary,
    k6: K6Series | None,
    charts: Sequence[Path],
) -> str:
    rows = "\n".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
        for k, v in _summary_rows(sm, k6)
    )
    images = "\n".join(
        f'<figure><img alt="{html.escape(p.stem)}" src="data:image/png;base64,'
        f'{base64.b64encode(p.read_bytes()).decode("ascii")}"></figure>'
        for p in charts
    )
    events = "\n".join(
        f"<li><time>{clock_face_rounded(at)}</time> {html.escape(message)}</li>"
        for at, message in sm.events
    )
    started = snapshots[0].time.strftime("%Y-%m-%d %H:%M UTC")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mind the Queue — talk report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem;
       color: #000f47; padding: 0 1rem; }}
h1 {{ border-left: .5rem solid #dc241f; padding-left: .75rem; }}
table {{ border-collapse: collapse; margin: 1rem 0 2rem; }}
th, td {{ text-align: left; padding: .35rem 1rem; border-bottom: 1px solid #d0d4e0; }}
th {{ font-weight: 600; }}
figure {{ margin: 1rem 0; }} img {{ max-width: 100%; }}
ul.events {{ columns: 2; font-size: .9rem; }} time {{ color: #6b6b6b; margin-right: .5rem; }}
</style></head>
<body>
<h1>Mind the Queue — talk report</h1>
<p>Recording <code>{html.escape(recording.name)}</code>: {len(snapshots)} snapshots from
{started}.</p>
<h2>Summary</h2>
<table>
{rows}
</table>
<h2>Charts</h2>
{images}
<h2>Events</h2>
<ul class="events">
{events}
</ul>
</body></html>
"""
