"""From an AWS account to a cluster where `tubedemo preflight` passes, and back to $0/h:
`tubedemo cluster create` and `tubedemo cluster delete`.

Each piece is made by the tool that owns it: eksctl (cluster, VPC, OIDC, add-ons, system nodes,
the controllers' roles) from a ClusterConfig rendered from demo.yaml and kept on disk; Karpenter's
own CloudFormation (node role, controller policies, interruption queue and its rules); Helm for
the controllers (Karpenter, Kedify's KEDA and OTEL scaler, the AWS Load Balancer Controller);
boto3 for the rest; Kubernetes objects through tubedemo.cluster.

Modules: ``pins`` (the versions, and why), ``eksctl_config`` (the eksctl ClusterConfig from
demo.yaml), ``releases`` (the Helm releases and their command lines), ``karpenter_stack``
(Karpenter's own CloudFormation: what we rely on), ``plan`` (the create and delete plans, step
by step) decide, pure; ``tools`` (runs eksctl and helm through the process seam),
``aws_steps`` (the AWS steps and the proof, through tubedemo.aws), ``cloudfront`` (the
audience's https name in front of the ALB), ``create`` and ``delete`` (carry the plans out).

May import tubedemo.cluster, tubedemo.manifests, tubedemo.prepare, tubedemo.aws and
tubedemo.core; never commands/ or above.
"""
