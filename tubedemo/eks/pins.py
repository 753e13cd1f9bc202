"""The versions `tubedemo cluster create` installs, each with why that one (pure constants).

Looked up on 2026-12-07 in the registries this project's machines reach; the test suite builds
eksctl and helm at these pins and checks what we ask of them with their own parsers.
"""

from __future__ import annotations

KUBERNETES = "1.35"
"""EKS version of a new cluster: the newest within preflight's supported 1.33-1.35 (README)."""

# v0.230.0 (2026-08-13): the newest eksctl the Go module proxy serves (its @v/list names only
# v0.143.0 and v0.215.0; v0.228.0-v0.230.0 are served, v0.231.0 and later are refused). It
# knows Kubernetes 1.35 (api.Version1_35) and access entries of type EC2_LINUX.
EKSCTL = "v0.230.0"
"""eksctl release: creates and deletes the cluster, its VPC, OIDC provider, add-ons and roles."""

# v4.3.2: the newest Helm on the Go module proxy (helm.sh/helm/v4; v3 is in maintenance).
HELM = "v4.3.2"
"""Helm release that installs the controllers' charts."""

# 1.14.3: the release whose CRDs `tubedemo validate` and the lab check (1.15.2 is newer; a bump
# moves the CRDs, the lab and this together).
KARPENTER = "1.14.3"
"""Karpenter chart and CloudFormation version."""

# Chart 3.2.2 (app v3.2.2): the chart in the only snapshot of kubernetes-sigs/aws-load-balancer-
# controller the Go module proxy serves (v0.0.0-20260423195125-93ff3b5fdaad); the tests render
# exactly that chart with our values. Preflight wants the controller >= 2.14.0.
LOAD_BALANCER_CONTROLLER_CHART = "3.2.2"
"""AWS Load Balancer Controller chart (repository https://aws.github.io/eks-charts)."""

# v2.20.1-6: the newest Kedify KEDA chart in kedify/charts (2026-07); KEDA 2.20 is the release
# whose CRDs `tubedemo validate` checks. Not a Go module: its values are not checked by tests.
KEDIFY_KEDA_CHART = "v2.20.1-6"
"""Kedify's KEDA build (understands `type: kedify-otel` triggers)."""

# v0.1.4: the newest otel-add-on tag (2026-04). Not served by the Go module proxy: its values
# schema is not checked by tests.
KEDIFY_OTEL_SCALER_CHART = "v0.1.4"
"""Kedify's OTEL scaler (OTLP receiver + KEDA external scaler)."""

SYSTEM_NODE_TYPE = "m6i.large"
"""Instance type of the two on-demand system nodes (controllers, gateway, collector)."""
SYSTEM_NODES = 2
"""System nodes: two, so a node's loss never takes every controller down at once."""
