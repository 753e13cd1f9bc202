"""The dashboard's Kubernetes feed on the lab: the real watches of a ``LabSession``, with each
Ready pod's /metrics read from the fleet (pods on KWOK nodes run no process) and every age and
duration in talk seconds; also what the twin-vs-lab comparison samples."""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import UTC, datetime

import httpx

from tubedemo.core.errors import ExternalToolError
from tubedemo.rehearsal.agreement import ScaleSample
from tubedemo.rehearsal.lab_session import LabSession
from tubedemo.telemetry.assembler import KubeReading, MetricsTarget
from tubedemo.telemetry.snapshot import GpuNode, NodeClaimState, NodeState, PodState


def _in_talk_seconds(reading: KubeReading, speed: float) -> KubeReading:
    """Ages and start-up times from the API server's wall clock, as talk seconds. Pure."""

    def pod(p: PodState) -> PodState:
        return p.model_copy(
            update={
                "created_s_ago": p.created_s_ago * speed,
                "scheduled_to_ready_s": None
                if p.scheduled_to_ready_s is None
                else p.scheduled_to_ready_s * speed,
                "created_to_ready_s": None
                if p.created_to_ready_s is None
                else p.created_to_ready_s * speed,
            }
        )

    def node(n: GpuNode) -> GpuNode:
        return n.model_copy(
            update={
                "age_s": n.age_s * speed,
                "launch_s": None if n.launch_s is None else n.launch_s * speed,
            }
        )

    def claim(c: NodeClaimState) -> NodeClaimState:
        return c.model_copy(update={"age_s": c.age_s * speed})

    replicas = reading.replicas.model_copy(
        update={"pods": tuple(pod(p) for p in reading.replicas.pods)}
    )
    nodes: NodeState = reading.nodes.model_copy(
        update={
            "nodes": tuple(node(n) for n in reading.nodes.nodes),
            "launching": tuple(claim(c) for c in reading.nodes.launching),
        }
    )
    return replace(reading, replicas=replicas, nodes=nodes)


def _get_text(url: str, timeout: float = 2.0) -> str:
    response = httpx.get(url, timeout=timeout)
    response.raise_for_status()
    return response.text


class LabKubeFeed:
    """The real watches (``tubedemo.cluster.watch.KubeWatchFeed``) of the lab, with each Ready
    pod's /metrics read from the fleet (pods on KWOK nodes have no process) and durations in
    talk seconds."""

    def __init__(self, session: LabSession, stale_after: float = 5.0) -> None:
        from tubedemo.cluster.watch import KubeWatchFeed, api_client

        assert session.kubeconfig is not None
        self.session = session
        self.speed = session.opt.speed
        forecast = None
        if session.cfg.scaling.proactive == "timeline":
            # the lab's forecast trigger reads the fleet's /forecast (lab_session's render)
            forecast = functools.partial(_get_text, f"{session.fleet_url}/forecast")
        self.watches = KubeWatchFeed(
            api_client(session.kubeconfig, None),
            namespace=session.cfg.cluster.namespace,
            nodepool=session.cfg.gpu_pool.name,
            max_replicas=session.cfg.scaling.max_replicas,
            stale_after=stale_after,
            backoff_max=2.0,
            forecast=forecast,
            startup_logs=False,  # KWOK's pods have no kubelet: their stages are the marks
        ).start()

    def wait_synced(self, timeout: float = 30.0) -> None:
        for w in self.watches.watches:
            if not w.wait_synced(timeout):
                raise ExternalToolError(f"lab watch {w.path} did not sync: {w.view().error}")

    def read(self, now: datetime) -> KubeReading:
        # the watches compare with the API server's clock: ask at wall time, report talk time
        reading = self.watches.read(datetime.now(UTC))
        base = self.session.fleet_url
        targets = tuple(
            MetricsTarget(name=t.name, url=f"{base}/pods/{t.name}/metrics") for t in reading.targets
        )
        return _in_talk_seconds(replace(reading, targets=targets), self.speed)

    def sample(self) -> ScaleSample:
        """The lab now, as the agreement counts it."""
        reading = self.watches.read(datetime.now(UTC), forecast=False)
        return ScaleSample(
            time=self.session.talk_time(),
            desired=reading.replicas.desired,  # spec.replicas: what the HPA set, as world.desired
            ready=reading.replicas.ready,
            nodes=tuple(sorted(n.instance_type or "?" for n in reading.nodes.nodes if n.ready)),
            launching=len(reading.nodes.launching),
        )

    def close(self) -> None:
        self.watches.close()
