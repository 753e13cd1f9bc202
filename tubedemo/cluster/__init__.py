"""Everything that talks to Kubernetes lives here (the only package importing `kubernetes`).

plan.py decides (pure); api.py is the one HTTP surface; up.py, teardown.py, status.py and
preflight.py carry out the plans. watch.py keeps the dashboard's list+watch caches and scrapes
vLLM /metrics through the API server's pod proxy.
"""
