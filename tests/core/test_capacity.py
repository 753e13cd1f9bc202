"""The G/VT vCPU quota the GPU pool needs: the most Karpenter may launch within its limits."""

from __future__ import annotations

from tubedemo.core.capacity import VCPUS, most_vcpus
from tubedemo.core.config import DemoConfig, config_from_dict
from tubedemo.twin.simulate import simulate

# the EKS path as the README prepares it, as the twin's other scaling tests take it
PREPARED = {
    "gpu_pool": {"image_snapshot_id": "snap-0123456789abcdef0"},
    "model": {"weights_uri": "s3://weights/llama-3.1-8b-instruct/"},
    # the queue's loop: it packs the burst onto g5.12xlarge (the forecast asks earlier, fewer)
    "scaling": {"proactive": "off"},
}


def _need(cfg: DemoConfig) -> int:
    pool = cfg.gpu_pool
    gpus = cfg.twin.startup.gpus_per_node
    return most_vcpus(pool.instance_types, gpus, pool.gpu_limit, pool.cpu_limit).vcpus


def test_the_quota_covers_what_the_twin_launches_for_the_default_talk() -> None:
    # preflight asked for 80 (10 x g5.2xlarge); the twin packs the burst onto g5.12xlarge
    cfg = config_from_dict(PREPARED)
    result = simulate(cfg)
    peak = max(sum(VCPUS[n.instance_type] for n in f.nodes) for f in result.frames)
    assert peak > 80
    assert peak <= _need(cfg)


def test_the_need_is_the_worst_case_over_every_type_the_node_pool_allows() -> None:
    pool = DemoConfig().gpu_pool
    gpus = DemoConfig().twin.startup.gpus_per_node
    need = most_vcpus(pool.instance_types, gpus, pool.gpu_limit, pool.cpu_limit)
    # a scarce g5.2xlarge makes EC2 Fleet launch g5.4xlarge: 16 vCPUs per GPU
    assert (need.vcpus, need.example, need.capped_by_cpu_limit) == (160, "10 x g5.4xlarge", False)
    # only 1-GPU g5.2xlarge nodes: 80 is enough; g5.12xlarge alone: whole nodes of 4 GPUs
    assert most_vcpus(["g5.2xlarge"], gpus, 10, 480).vcpus == 80
    assert most_vcpus(["g5.12xlarge"], gpus, 10, 480).example == "2 x g5.12xlarge"
    mixed = most_vcpus(["g5.2xlarge", "g5.12xlarge"], gpus, 10, 480)
    assert (mixed.vcpus, mixed.example) == (112, "2 x g5.12xlarge + 2 x g5.2xlarge")
    # the NodePool's cpu limit bounds it too
    capped = most_vcpus(pool.instance_types, gpus, 10, 100)
    assert (capped.vcpus, capped.capped_by_cpu_limit) == (100, True)
    # a type the catalogue does not know, or without a GPU count, cannot be launched for vLLM
    assert most_vcpus(["m6i.large", "g5.48xlarge"], gpus, 10, 480).vcpus == 0
