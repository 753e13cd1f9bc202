"""The lab: the talk's autoscaling loop with the real controllers on this machine, no Docker.

`tubedemo lab up` starts the pinned control plane (etcd, kube-apiserver with the aggregation
layer, kube-controller-manager with its HPA controller, kube-scheduler, KWOK), KEDA (operator,
metrics API server registered as ``external.metrics.k8s.io``, admission webhooks) and Karpenter
with its KWOK cloud provider, all built from pinned Go modules (scripts/build-controlplane,
scripts/build-lab).

Python API (``rehearse --lab``, ``lab compare``, tests)::

    from pathlib import Path
    from tubedemo.core.config import load_config
    from tubedemo.lab import Lab, LabOptions, render_lab, support_objects
    from tubedemo.twin.startup import resolved_startup

    cfg = load_config(None, [])
    options = LabOptions(workdir=Path("out/lab"), speed=10, startup=resolved_startup(cfg),
                         prices=cfg.prices, hpa=cfg.twin.hpa)
    with Lab(options).running() as lab:
        lab.kubeconfig               # cluster-admin kubeconfig (an absolute Path)
        lab.options.speed            # the factor every interval was divided by
        support_objects(cfg)         # what EKS has before `up`: apply these first
        render_lab(cfg, speed=lab.options.speed, queue_url=...)   # then our manifests

Modules, by job: ``stack`` (the whole lab: start in order, stop in reverse; ``Lab``,
``LabOptions``, ``LabError``), ``controlplane`` (the Kubernetes part, also the tests' control
plane), ``controllers`` (KEDA's and Karpenter's command lines and certificates), ``pki`` (CA,
certificates, kubeconfigs), ``binaries`` (where the builds are), ``state_file`` (the state file;
another shell's `lab status` and `lab down`), ``supervise`` (keep a lab up in the foreground
or in the background), ``drill`` (the spot drill: a replica's NodeClaim deleted as Karpenter
does on EC2's notice). What the lab applies, all here: ``variant`` (our manifests' lab
variant, pure) and ``objects`` (the controllers' objects and what EKS has before `up`, pure).
Child processes go through tubedemo.core.processes (each component dies with its owner).

Imports: tubedemo.core, tubedemo.manifests (the render, CRDs), tubedemo.cluster.api (the only
door to the Kubernetes API); never the `kubernetes` library itself. Imported by
tubedemo.commands, tubedemo.rehearsal and tests.
"""

from __future__ import annotations

from tubedemo.lab.objects import support_objects
from tubedemo.lab.stack import Lab, LabError, LabOptions, default_home
from tubedemo.lab.variant import CollectorWiring, render_lab

__all__ = [
    "CollectorWiring",
    "Lab",
    "LabError",
    "LabOptions",
    "default_home",
    "render_lab",
    "support_objects",
]
