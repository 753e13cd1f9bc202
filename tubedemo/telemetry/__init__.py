"""Live telemetry: the Snapshot contract, the sources that sample the talk and the Assembler
that turns them into one Snapshot per tick; the recorder and its reader; the one reader of each
outside format and the one quantile rule.

Modules: ``snapshot`` (the contract), ``assembler`` (one Snapshot per tick from the feeds),
``http_sources`` (vLLM /metrics, the gateway, a fleet simulator's state over HTTP),
``prometheus`` (the Prometheus text of vLLM and the gateway), ``kube_view`` (Kubernetes objects
as Snapshot groups), ``k6_points`` (k6's JSON series), ``quantiles`` (nearest rank, for every
p50/p95 of raw samples), ``talk_state`` (where the talk is at a second), ``cost``, ``events``
(ticker lines from two snapshots), ``recording`` (the JSONL recorder, reader and replay),
``waterfall`` (a pod's start-up milestones as the waterfall's segments), ``vllm_log`` (vLLM's
start-up log lines as the weights and compile milestones).

May import tubedemo.core only; twin/, cluster/ and screen/ build on it.
"""
