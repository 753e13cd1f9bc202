"""The only module that runs eksctl and helm.

Each run's output goes to a log file in the create/delete folder (eksctl prints for 15 minutes);
a failure is one line naming the command, its exit code, the last lines and the log. The
environment is the AWS session's (region, profile, endpoint), so the tools act in the same
account as tubedemo's own calls.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tubedemo.core import processes
from tubedemo.core.errors import ExternalToolError
from tubedemo.eks import pins

INSTALL = {
    "eksctl": f"install eksctl {pins.EKSCTL} (https://eksctl.io/installation)",
    "helm": f"install helm {pins.HELM} (https://helm.sh/docs/intro/install)",
}


class ToolFailed(ExternalToolError):
    """eksctl or helm is missing or exited non-zero."""


@dataclass(frozen=True)
class Tools:
    """eksctl and helm, run with one environment, logging into one folder."""

    env: Mapping[str, str]
    logs: Path

    def exe(self, name: str) -> str:
        found = shutil.which(name, path=self.env.get("PATH"))
        if found is None:
            raise ToolFailed(f"{name} is not on PATH: {INSTALL[name]}")
        return found

    def run(self, argv: Sequence[str], *, log: str, stdin: str | None = None) -> str:
        """Run argv (argv[0] is eksctl or helm); returns its standard output. Its output and
        errors are appended to logs/<log>.log."""
        self.logs.mkdir(parents=True, exist_ok=True)
        path = self.logs / f"{log}.log"
        command = [self.exe(argv[0]), *argv[1:]]
        ran = processes.run(command, what=f"{argv[0]} {argv[1]}", stdin=stdin, env=self.env)
        with path.open("a", encoding="utf-8") as sink:
            sink.write(f"$ {' '.join(argv)}\n")
            sink.write(ran.errors)
            sink.write(ran.output)
        if ran.code != 0:
            raise ToolFailed(
                f"`{' '.join(argv[:3])} …` exited {ran.code}: {ran.tail(3)} (log {path})"
            )
        return ran.output
