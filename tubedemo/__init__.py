"""tubedemo: conduct a live talk about autoscaling LLM inference on Kubernetes.

The root holds only the entry points (``__main__``, ``cli``) and the subpackages; each
subpackage's docstring says what it may import, and the import contracts in pyproject.toml
(``lint-imports``, run by ``nox -s lint``) enforce it. The map is in the README ("Where things
live").
"""
