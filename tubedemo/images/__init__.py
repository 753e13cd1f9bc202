"""Our own container images: build them from the repository's Dockerfiles, push them, point
demo.yaml at what was pushed. ``plan`` is pure (recipes, references, the demo.yaml edit);
``tool`` is the only module that runs the image tool (docker, podman or buildah) or npm;
``ecr`` is the only one that talks to Amazon ECR. Imports core only.
"""
