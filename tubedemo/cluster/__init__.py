"""Everything that talks to Kubernetes lives here (the only package importing `kubernetes`).

plan.py decides (pure); api.py is the one HTTP surface and errors.py the one translator of
Kubernetes failures into ClusterErrors; up.py, teardown.py, status.py and preflight.py carry
out the plans. watch.py keeps the dashboard's list+watch caches and scrapes vLLM /metrics
through the API server's pod proxy; gateway_proxy.py reaches the gateway Service the same way;
ready_pods.py follows the lab's Ready vLLM pods.

May import tubedemo.core and tubedemo.telemetry (watch.py and status.py build the Snapshot's
groups); never audience/, screen/, talk/ or above.
"""
