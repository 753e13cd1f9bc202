"""Everything that talks to Kubernetes lives here (the only package importing `kubernetes`).

plan.py decides (pure); api.py is the one HTTP surface; up.py, teardown.py, status.py and
preflight.py carry out the plans.
"""
