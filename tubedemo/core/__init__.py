"""The foundation every package stands on: the config model, the error families, time as people
read it, the formula language, the timeline plan, the process seam.

Modules: ``config`` (DemoConfig, the one typed model of demo.yaml, and load_config),
``errors`` (the exception families, their exit codes, an error's text on one line),
``durations`` ("90s" both ways, clock faces, the --speed check), ``timeline`` (the phases as
the show's schedule and as k6's scenarios), ``formula`` (KEDA's scaling formula: parse, check,
evaluate), ``capacity`` (the most GPUs and vCPUs Karpenter may launch for the pool),
``metric_query`` (the Kedify OTEL scaler's metricQuery as its parser reads it),
``own_images`` (the images that are ours and the placeholder an unpushed one renders as),
``resources`` (templates/ and k6/, from a checkout or a wheel), ``processes`` (the one door to
child processes), ``signals`` (SIGTERM and SIGHUP end a command like Ctrl-C),
``vllm_release`` (the pinned vLLM release), ``cache`` (tubedemo's cache folder), ``gobuild``
(the pinned Go builds: their keys and folders), ``certs`` (a self-signed CA, the one way
tubedemo makes one), ``face`` (a package's curated face, imported
on first use: how twin, manifests, audience and cluster export their public names).

Imports nothing else of tubedemo's (the bottom layer of the import contracts in
pyproject.toml). ``errors``, ``durations`` and ``signals`` stay light (no pydantic, no YAML):
the CLI's start-up (``tubedemo --help``) imports them, and with them this ``__init__``, which
is why it holds only ``DEFAULT_CONFIG_PATH`` and has no face of its own (DemoConfig's is
``tubedemo.core.config``). ``gobuild``, ``cache`` and ``vllm_release`` (with ``errors`` and
``resources``) are standard library only: scripts/ imports them from the checkout before the
project's virtualenv exists.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_CONFIG_PATH = Path("demo.yaml")
"""The config file a command reads when no --config is given (in the current directory)."""
