"""RECORDERS standing in for eksctl and helm where they cannot act here (no EKS, no chart
registries): each records its command line and the files it was handed, then has the real tool
(built by scripts/build-eks-tools at the pins) judge what was asked, and fails as the tool would.
tests/eks/recorders/recorder.py is the program; `install` puts `eksctl` and `helm` on a PATH.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def install(bin_dir: Path) -> None:
    """Executables named eksctl and helm in bin_dir that run the recorder with this Python."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("eksctl", "helm"):
        shim = bin_dir / tool
        shim.write_text(
            f'#!/bin/sh\nexec "{sys.executable}" "{HERE / "recorder.py"}" {tool} "$@"\n',
            encoding="utf-8",
        )
        shim.chmod(0o755)
