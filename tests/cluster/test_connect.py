"""Opening a kubeconfig: every way it can be wrong is one ClusterError line (no cluster needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tubedemo.cluster.api import WrongContext, connect

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: abc}
contexts:
- name: rehearsal
  context: {cluster: c, user: u}
current-context: rehearsal
"""


def test_a_missing_kubeconfig_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(WrongContext, match="does not exist; pass --kubeconfig"):
        connect(tmp_path / "nope")


def test_a_garbled_kubeconfig_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "config"
    bad.write_text("clusters: [unclosed\n")
    with pytest.raises(WrongContext, match="is unusable") as exc:
        connect(bad)
    assert "\n" not in exc.value.message


def test_an_unknown_context_lists_the_known_ones(tmp_path: Path) -> None:
    good = tmp_path / "config"
    good.write_text(KUBECONFIG)
    with pytest.raises(WrongContext, match=r"context 'prod' is not in .*available: rehearsal"):
        connect(good, "prod")


def test_the_current_context_is_used_by_default(tmp_path: Path) -> None:
    good = tmp_path / "config"
    good.write_text(KUBECONFIG)
    api = connect(good)
    assert (api.context, api.user, api.server) == ("rehearsal", "u", "https://127.0.0.1:1")
