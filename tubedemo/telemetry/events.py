"""Ticker events from two consecutive snapshots. Pure: same inputs, same events.

Messages are plain facts ("Scaling 2 → 5"); the dashboard adds the tube flavour when it is on.
"""

from __future__ import annotations

from tubedemo.telemetry.snapshot import Event, Snapshot


def derive_events(previous: Snapshot | None, current: Snapshot) -> tuple[Event, ...]:
    """What changed between two ticks that the room should hear about."""
    if previous is None:
        return ()
    at = current.time
    events: list[Event] = []

    before, after = previous.replicas.desired, current.replicas.desired
    if before != after and not current.replicas.stale and not previous.replicas.stale:
        events.append(Event(time=at, kind="scale", message=f"Scaling {before} → {after}"))

    old_nodes = {n.name: n for n in previous.nodes.nodes}
    new_nodes = {n.name: n for n in current.nodes.nodes}
    for name, node in new_nodes.items():
        was = old_nodes.get(name)
        if node.ready and (was is None or not was.ready):
            took = f" in {node.launch_s:.0f} s" if node.launch_s is not None else ""
            events.append(
                Event(
                    time=at,
                    kind="node_launched",
                    message=f"GPU node {node.instance_type} {node.capacity_type} ready{took}",
                )
            )
        if node.disruption and (was is None or not was.disruption):
            kind = "spot_interruption" if node.disruption == "interrupted" else "node_removed"
            label = "Spot interruption" if kind == "spot_interruption" else "Node disrupted"
            events.append(Event(time=at, kind=kind, message=f"{label}: {name} ({node.disruption})"))
    if not current.nodes.stale:
        for name, node in old_nodes.items():
            if name not in new_nodes and not node.disruption:
                events.append(
                    Event(time=at, kind="node_removed", message=f"GPU node {name} removed")
                )

    before_notices = {i.node: i for i in previous.interruptions}
    for notice in current.interruptions:
        was_notice = before_notices.get(notice.node)
        if notice.replaced_s is not None and (was_notice is None or was_notice.replaced_s is None):
            verdict = "inside" if notice.replaced_s <= notice.notice_s else "after"
            events.append(
                Event(
                    time=at,
                    kind="pod_ready",
                    message=(
                        f"Replacement serving {notice.replaced_s:.0f} s after the spot notice "
                        f"on {notice.node} ({verdict} its {notice.notice_s:.0f} s)"
                    ),
                )
            )

    old_pods = {p.name: p for p in previous.replicas.pods}
    for pod in current.replicas.pods:
        was_pod = old_pods.get(pod.name)
        if pod.ready and (was_pod is None or not was_pod.ready):
            took = (
                f" in {pod.scheduled_to_ready_s:.0f} s"
                if pod.scheduled_to_ready_s is not None
                else ""
            )
            events.append(Event(time=at, kind="pod_ready", message=f"Pod {pod.name} ready{took}"))
        if pod.phase == "Failed" and (was_pod is None or was_pod.phase != "Failed"):
            events.append(Event(time=at, kind="pod_failed", message=f"Pod {pod.name} failed"))

    if current.talk.phase and current.talk.phase != previous.talk.phase:
        events.append(Event(time=at, kind="phase", message=f"Phase: {current.talk.phase}"))
    if (
        current.audience.mode
        and previous.audience.mode
        and current.audience.mode != previous.audience.mode
    ):
        events.append(
            Event(time=at, kind="mode", message=f"Audience page → {current.audience.mode}")
        )
    return tuple(events)
