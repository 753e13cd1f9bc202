"""What the dashboard says in words: the one-line commentary on the scaling story and the
events ticker's wording, tube-flavoured or plain. Pure."""

from __future__ import annotations

from tubedemo.screen.dashboard.frame import Frame
from tubedemo.telemetry.snapshot import Event


def event_text(f: Frame, event: Event) -> str:
    if f.options.tube_flavour and event.kind == "scale":
        return f"Mind the gap! {event.message}"
    if f.options.tube_flavour and event.kind == "spot_interruption":
        return f"Signal failure: {event.message}"
    return event.message


def commentary(f: Frame) -> str:
    s = f.now
    r, q, n = s.replicas, s.queue, s.nodes
    stale = [
        name
        for name, group in (
            ("replicas", s.replicas),
            ("nodes", s.nodes),
            ("vLLM metrics", s.perf),
            ("queue", s.queue),
        )
        if group.stale
    ]
    flavour = f.options.tube_flavour
    if stale:
        what = ", ".join(stale)
        return (
            f"Signal failure on the {what} line: showing the last known service."
            if flavour
            else f"No fresh data from: {what}."
        )
    if s.hpa.problem and not s.hpa.stale:
        return (
            f"Signal failure at the autoscaler: {s.hpa.problem}. Trains run to the old timetable."
            if flavour
            else f"The HPA cannot scale: {s.hpa.problem}."
        )
    if q.waiting == 0 and r.pending == 0:
        return "Good service on all lines." if flavour else f"Queue empty; {r.ready} serving."
    if n.launching:
        k = len(n.launching)
        return (
            f"{q.virtual_commuters:,} commuters on the platform; Karpenter is fetching "
            f"{k} more train{'s' if k > 1 else ''} from the depot."
            if flavour
            else f"{q.waiting} waiting; {k} GPU node(s) launching."
        )
    if r.pending:
        return (
            f"New trains are warming up their engines ({r.pending} loading the model)."
            if flavour
            else f"{q.waiting} waiting; {r.pending} pod(s) starting."
        )
    if q.waiting:
        return (
            f"Minor delays: {q.waiting} waiting. Please let passengers off the train first."
            if flavour
            else f"{q.waiting} waiting; {r.ready} serving, none starting."
        )
    return "Scaling down: trains returning to the depot." if flavour else "Scaling down."
