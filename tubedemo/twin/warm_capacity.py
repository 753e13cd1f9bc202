"""Warm capacity as the twin's world runs it (``world.World`` inherits this): with
``scaling.warm_capacity``, placeholder pods (one GPU each, negative priority) exist in the
window ``forecast.warm_window`` gives; Karpenter launches their nodes like any pending pod's; a
vLLM pod that finds no free GPU preempts one on a Ready node and binds there at once (the pause
container stops at once: terminationGracePeriodSeconds 0); while the window is open the
placeholder's Deployment makes a new one, pending, and Karpenter launches a node for it.

The world's clock, pods and scheduler live in ``world``, the nodes in ``karpenter_loop``; this
is the placeholders' part of the same discrete-event loop, on the same state (declared below
for the type checker).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING

from tubedemo.core.config import DemoConfig
from tubedemo.twin.pods import Node, Pod


class WarmCapacity:
    """The placeholders' part of ``world.World``: the window, preemption and their cost."""

    # The world's state this part reads and moves (World.__init__ sets it).
    config: DemoConfig
    now: float
    nodes: list[Node]
    placeholders: list[Pod]
    _warm_names: itertools.count[int]
    _warm_until: float | None

    if TYPE_CHECKING:  # the world's clock, scheduler and Karpenter's side (world.World)

        def at(self, time: float, action: Callable[[], None]) -> None: ...
        def log(self, kind: str, message: str) -> None: ...
        def _place(self, pod: Pod) -> None: ...
        def _delete_pod(self, pod: Pod, why: str) -> None: ...
        def _pod_event(self, node: Node) -> None: ...

    def _warm_up(self, until: float) -> None:
        self._warm_until = until
        count = self.config.scaling.warm_capacity.replicas
        self.log("info", f"warm capacity: {count} placeholder pod(s) until {until:.0f} s")
        for _ in range(count):
            self._new_placeholder()

    def _new_placeholder(self) -> None:
        pod = Pod(name=f"warm-{next(self._warm_names)}", created_at=self.now)
        self.placeholders.append(pod)
        self._place(pod)

    def _warm_down(self) -> None:
        self._warm_until = None
        for pod in self.placeholders:
            if pod.live:
                self._delete_pod(pod, "warm capacity window over")

    def _hold(self, pod: Pod, node: Node) -> None:
        """A placeholder runs on ``node``: it holds one GPU and nothing else."""
        pod.node = node
        pod.nominated = None
        pod.scheduled_at = self.now
        node.pods.append(pod)
        node.empty_since = None
        self._pod_event(node)

    def _preempt_for(self, pod: Pod) -> Node | None:
        """kube-scheduler's preemption: the oldest Ready node holding a placeholder gives its
        GPU to ``pod`` (the victim is deleted at once); None when no placeholder runs."""
        held = [
            n
            for n in self.nodes
            if n.alive
            and n.is_ready
            and n.interrupted_at is None
            and n.terminating_at is None
            and any(p.live and p in self.placeholders for p in n.pods)
        ]
        if not held:
            return None
        node = min(held, key=lambda n: n.created_at)
        victim = next(p for p in node.pods if p.live and p in self.placeholders)
        node.pods.remove(victim)
        victim.deleting_at = victim.gone_at = self.now
        self.log("info", f"{pod.name} preempts {victim.name} on {node.name}")
        if self._warm_until is not None:
            self.at(self.now, self._new_placeholder)
        return node

    def warm_cost(self, until: float | None = None) -> float:
        """$ of the GPUs placeholders held (their node's price per GPU while bound)."""
        end = self.now if until is None else until
        total = 0.0
        for pod in self.placeholders:
            node = pod.node
            if node is None or pod.scheduled_at is None:
                continue
            stop = end if pod.gone_at is None else min(pod.gone_at, end)
            held = max(stop - pod.scheduled_at, 0.0)
            total += held / 3600.0 * node.price_per_hour / node.gpus
        return total
