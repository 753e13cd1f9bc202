"""Everything that talks to AWS (the only package importing boto3 and botocore).

Modules: ``session`` (the one door: ``Aws`` makes the clients for a region, profile or
endpoint, and every call goes through ``Aws.call``, ``pages``, ``wait`` or ``upload_file``),
``errors`` (the one translator of botocore's failures into the AwsError family: one line, one
exit code); pure: ``s3_layout`` (where the prepared weights live in S3), ``iam`` (the IRSA policy
documents), ``fis`` (the spot drill's FIS experiment and role); do: ``account`` (the AWS
account's side of preflight, the survey bucket), ``eks_cluster`` (the EKS cluster's version, VPC
and OIDC issuer; the VPC's S3 endpoint), ``ecr`` (repositories and the registry login of
`images push` and prepare's builder).

May import tubedemo.core only; boto3/botocore are imported inside session.py's and errors.py's
functions, so `tubedemo --help` and the render never load them.
"""
