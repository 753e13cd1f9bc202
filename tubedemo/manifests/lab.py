"""The `lab` render variant: the EKS render, for the lab's real KEDA and Karpenter (KWOK
provider) on this machine. Pure: config in, manifests out.

Every difference from what `tubedemo up` applies to EKS lives here, in one place:

- the EC2NodeClass becomes a ``KWOKNodeClass`` of the same name (its ``nodeRegistrationDelay``
  is ``twin.startup.node_launch`` less Karpenter's batching window), and the NodePool's
  ``nodeClassRef`` points at it; the NodePool is otherwise the EKS one (instance types,
  capacity types, GPU limits, taints, disruption budgets);
- at ``speed`` N every interval the objects carry is divided by N (KEDA pollingInterval and
  cooldownPeriod, the HPA behaviour's stabilization windows and policy periods, the NodePool's
  consolidateAfter), rounded to whole seconds as the APIs require (periods and polling at
  least 1 s); at speed 1 they are byte-identical to the EKS render;
- (the ScaledObject's trigger, which the lab cannot serve with the Kedify OTEL scaler, is the
  next difference to add here.)
"""

from __future__ import annotations

from typing import Any

from tubedemo.core.config import DemoConfig, HpaRules, StartupModel
from tubedemo.manifests.render import Manifest, render

KWOK_NODE_CLASS_GROUP = "karpenter.kwok.sh"
KWOK_NODE_CLASS_KIND = "KWOKNodeClass"


def whole_seconds(seconds: float) -> str:
    """A duration in the whole-second form Karpenter's CRDs accept (``45s``)."""
    return f"{max(0, round(seconds))}s"


def node_registration_delay(startup: StartupModel, speed: float) -> float:
    """KWOKNodeClass nodeRegistrationDelay (s): twin.startup.node_launch counts from the pod
    going pending, so Karpenter's own batching window is taken off it."""
    return max(0.0, startup.node_launch - startup.provisioning_batch) / speed


def kwok_node_class(name: str, startup: StartupModel, speed: float) -> Manifest:
    """The KWOKNodeClass standing in for the EC2NodeClass of the same name."""
    return {
        "apiVersion": f"{KWOK_NODE_CLASS_GROUP}/v1alpha1",
        "kind": KWOK_NODE_CLASS_KIND,
        "metadata": {"name": name},
        "spec": {"nodeRegistrationDelay": whole_seconds(node_registration_delay(startup, speed))},
    }


def compress(cfg: DemoConfig, speed: float) -> DemoConfig:
    """``cfg`` with every interval the rendered objects carry divided by ``speed``."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    if speed == 1:
        return cfg

    def at_least(seconds: float, floor: float) -> float:
        return float(max(floor, round(seconds / speed)))

    def rules(r: HpaRules) -> HpaRules:
        return r.model_copy(
            update={
                "stabilization": at_least(r.stabilization, 0),
                "policies": [
                    p.model_copy(update={"period": at_least(p.period, 1)}) for p in r.policies
                ],
            }
        )

    s = cfg.scaling
    scaling = s.model_copy(
        update={
            "polling_interval": at_least(s.polling_interval, 1),
            "cooldown": at_least(s.cooldown, 0),
            "scale_up": rules(s.scale_up),
            "scale_down": rules(s.scale_down),
        }
    )
    pool = cfg.gpu_pool.model_copy(
        update={"consolidate_after": at_least(cfg.gpu_pool.consolidate_after, 0)}
    )
    return cfg.model_copy(update={"scaling": scaling, "gpu_pool": pool})


def render_lab(cfg: DemoConfig, *, speed: float = 1.0) -> list[Manifest]:
    """The manifests `tubedemo up` would apply to EKS, changed only as the module says."""
    eks = compress(cfg, speed).model_copy(update={"profile": "eks"})
    out: list[Manifest] = []
    for obj in render(eks):
        if obj.get("kind") == "EC2NodeClass":
            node_class = kwok_node_class(obj["metadata"]["name"], cfg.twin.startup, speed)
            node_class["metadata"]["labels"] = dict(obj["metadata"].get("labels", {}))
            out.append(node_class)
            continue
        if obj.get("kind") == "NodePool":
            _point_at_kwok(obj)
        out.append(obj)
    return out


def _point_at_kwok(pool: dict[str, Any]) -> None:
    ref = pool["spec"]["template"]["spec"]["nodeClassRef"]
    ref["group"] = KWOK_NODE_CLASS_GROUP
    ref["kind"] = KWOK_NODE_CLASS_KIND
