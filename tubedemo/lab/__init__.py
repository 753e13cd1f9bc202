"""The lab: the talk's autoscaling loop with the real controllers on this machine, no Docker.

`tubedemo lab up` starts the pinned control plane (etcd, kube-apiserver with the aggregation
layer, kube-controller-manager with its HPA controller, kube-scheduler, KWOK), KEDA (operator,
metrics API server registered as ``external.metrics.k8s.io``, admission webhooks) and Karpenter
with its KWOK cloud provider, all built from pinned Go modules (scripts/build-controlplane,
scripts/build-lab).

Python API (for `rehearse --lab`, `lab compare`, tests)::

    from tubedemo.lab.lab import Lab, LabOptions
    with Lab(LabOptions(workdir=Path(".lab"), speed=10, startup=cfg.resolved_startup,
                        instance_types=..., prices=...)).running() as lab:
        lab.kubeconfig        # cluster-admin kubeconfig (Path)
        lab.speed             # the compression factor every interval was divided by
    # objects for it: tubedemo.manifests.lab.render_lab(cfg, speed=lab.speed)

Modules: ``pki`` (CA, certificates, kubeconfigs), ``processes`` (one child process, dies with
its parent), ``binaries`` (where the builds are), ``controlplane`` (the Kubernetes part),
``objects`` (pure: instance types, KWOK stages, KEDA/Karpenter bootstrap objects),
``lab`` (the whole lab: start/stop, state file for `lab status`/`lab down`).

Imports: tubedemo.core, tubedemo.manifests (CRDs), tubedemo.cluster.api (the only door to the
Kubernetes API); never the `kubernetes` library itself. Imported by tubedemo.commands,
tubedemo.rehearsal and tests.
"""
