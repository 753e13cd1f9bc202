"""checkov on both renders, held to a committed skip list (`nox -s lint`; issue #23).

    python tools/checkov/gate.py CHECKOV_EXECUTABLE

Renders the default `eks` (warm capacity on) and `local` manifests, runs checkov's
Kubernetes checks on each and fails when a failed check is not in tools/checkov/skips.json
for that profile and resource, when a skip has no reason, or when a skip no longer matches a
failure (a fixed finding must leave the list, so the list stays the truth). Skips name one
check on one resource, so a new object failing a skipped check still fails the lint.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SKIPS = HERE / "skips.json"
PROFILES = ("eks", "local")

Finding = tuple[str, str, str]
"""(profile, check id, checkov's resource id)."""


def problems(failed: Iterable[Finding], skips: list[dict[str, Any]]) -> list[str]:
    """What makes the lint fail: unlisted failures, skips without a reason, stale skips. Pure."""
    out = []
    listed: set[Finding] = set()
    for s in skips:
        for profile in s["profiles"]:
            listed.add((profile, s["check"], s["resource"]))
        if len(str(s.get("reason", "")).strip()) < 20:
            out.append(f"skip {s['check']} on {s['resource']}: give the reason (a sentence)")
    found = set(failed)
    for profile, check, resource in sorted(found - listed):
        out.append(f"{profile}: {check} failed on {resource} and is not in {SKIPS.name}")
    for profile, check, resource in sorted(listed - found):
        out.append(f"{profile}: {check} on {resource} passes now: remove it from {SKIPS.name}")
    return out


def scan(checkov: str, profile: str, folder: Path) -> list[Finding]:
    from tubedemo.core.config import config_from_dict
    from tubedemo.manifests.render import render, write_files

    # eks with the objects only it renders, optional ones too (warm capacity's placeholders),
    # so checkov sees every pod the profile can run
    extra = {"scaling": {"warm_capacity": {"replicas": 1}}} if profile == "eks" else {}
    write_files(render(config_from_dict({"profile": profile, **extra})), folder)
    result = subprocess.run(
        [checkov, "-d", str(folder), "--framework", "kubernetes", "-o", "json", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode not in (0, 1):
        raise SystemExit(f"checkov failed ({result.returncode}): {result.stderr[-2000:]}")
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return [
        (profile, str(f["check_id"]), str(f["resource"]))
        for report in reports
        for f in report.get("results", {}).get("failed_checks", [])
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    skips = json.loads(SKIPS.read_text())["skips"]
    failed: list[Finding] = []
    with tempfile.TemporaryDirectory(prefix="tubedemo-checkov-") as tmp:
        for profile in PROFILES:
            failed += scan(argv[0], profile, Path(tmp) / profile)
    found = problems(failed, skips)
    for line in found:
        print(f"checkov: {line}", file=sys.stderr)
    if not found:
        print(f"checkov: both renders clean against {len(skips)} reasoned skips")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
