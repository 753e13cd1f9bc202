"""The checkov gate of `nox -s lint` (tools/checkov/gate.py): every failure is listed with a
reason, and a listed failure that passes now must leave the list (issue #23)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def _gate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("checkov_gate", REPO / "tools/checkov/gate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REASON = "The gateway reads its token from the environment, from the Secret."
SKIP = {"check": "CKV_K8S_35", "resource": "Deployment.t.gateway", "profiles": ["eks"]}


def test_a_listed_failure_with_a_reason_passes() -> None:
    assert _gate().problems([("eks", "CKV_K8S_35", "Deployment.t.gateway")], [
        {**SKIP, "reason": REASON}
    ]) == []  # fmt: skip


def test_an_unlisted_failure_fails_and_names_the_profile_and_resource() -> None:
    (problem,) = _gate().problems([("local", "CKV_K8S_35", "Deployment.t.gateway")], [])
    assert problem.startswith("local: CKV_K8S_35 failed on Deployment.t.gateway")


def test_a_skip_without_a_reason_or_that_passes_now_fails() -> None:
    found = _gate().problems([], [{**SKIP, "reason": "x"}])
    assert any("give the reason" in p for p in found)
    assert any("passes now: remove it" in p for p in found)


def test_the_committed_list_pins_the_checkov_the_lint_installs_and_gives_every_reason() -> None:
    listed = json.loads((REPO / "tools/checkov/skips.json").read_text())
    noxfile = (REPO / "noxfile.py").read_text()
    assert f'CHECKOV = "{listed["checkov"]}"' in noxfile
    assert all(len(s["reason"]) >= 20 for s in listed["skips"])
    # the findings of issue 23 that matter are fixed, not skipped (vLLM's GPU root aside)
    fixed = {"CKV_K8S_20", "CKV_K8S_28", "CKV_K8S_29", "CKV_K8S_30", "CKV_K8S_31", "CKV_K8S_37"}
    assert not fixed & {s["check"] for s in listed["skips"]}
