"""`tubedemo prepare`: make, find and delete what the prepared talk starts from.

Modules: ``plan`` decides (pure: tags, filters, the builder's pull command, which files to
copy); ``weights`` copies the model from the Hugging Face hub (huggingface_hub) to the
per-account bucket; ``image_snapshot`` makes the EBS snapshot with model.image pulled (a
Bottlerocket builder instance; not telemetry's Snapshot); ``lookup`` finds both again for `up`,
`diff` and preflight (for ``auto``); ``delete`` removes them.

May import tubedemo.core, tubedemo.aws (every AWS call goes through its door) and
huggingface_hub; never boto3/botocore or kubernetes.
"""
