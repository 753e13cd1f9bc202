"""Our own container images: build them from the repository's Dockerfiles, push them, point
demo.yaml at what was pushed.

Modules: ``plan`` (pure: recipes, references, the demo.yaml edit), ``tool`` (the only module
that runs the image tool, docker, podman or buildah, or npm). Amazon ECR (repositories, the
registry login) is tubedemo.aws.ecr's.

Imports core only.
"""
