"""How a rendered securityContext becomes `buildah run` options (tests/images/pods.py), decided
without running anything: the container's fields win over the pod's, as in Kubernetes, and a
root user under runAsNonRoot is refused as the kubelet refuses it."""

from __future__ import annotations

import pytest

from tests.images.pods import Security, security

POD = {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001}
LOCKED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def test_the_rendered_lockdown_becomes_user_cap_drop_no_new_privs_and_a_read_only_root() -> None:
    assert security(POD, LOCKED, "10001") == Security(
        user="10001:10001", cap_drop=("ALL",), cap_add=(), no_new_privs=True, read_only_root=True
    )


def test_the_container_s_fields_win_over_the_pod_s() -> None:
    made = security(POD, {"runAsUser": 20002, "runAsGroup": 20002}, "10001")
    assert made.user == "20002:20002"
    assert not made.no_new_privs and not made.read_only_root


def test_without_run_as_user_the_image_s_user_is_checked_against_run_as_non_root() -> None:
    assert security({"runAsNonRoot": True}, {}, "10001").user is None
    with pytest.raises(AssertionError, match="runAsNonRoot is set but the container would run as"):
        security({"runAsNonRoot": True}, {}, "")
    with pytest.raises(AssertionError, match="'root'"):
        security({"runAsNonRoot": True}, {}, "root:root")
