"""Where scripts/build-eks-tools put eksctl, helm and the charts (None until it has run)."""

from __future__ import annotations

from pathlib import Path

from scripts import build_eks_tools


def eks_tools_dir() -> Path | None:
    return build_eks_tools.cache_dir() if build_eks_tools.is_current() else None
