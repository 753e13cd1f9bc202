"""The foundation: config model, errors, durations and clock faces, the formula language, the
timeline plan, shipped resources, child processes and the SIGTERM and SIGHUP helper.

Imports nothing else of tubedemo's (the bottom layer of the import contracts in
pyproject.toml). ``errors``, ``durations`` and ``signals`` stay light (no pydantic, no YAML):
the CLI's start-up (``tubedemo --help``) imports them.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_CONFIG_PATH = Path("demo.yaml")
"""The config file a command reads when no --config is given (in the current directory)."""
