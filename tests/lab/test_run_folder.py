"""A lab's run folder given relative (`rehearse --lab` and `lab compare` with their defaults put
it under out/): the kubeconfigs written there must name certificates that exist, read as
Kubernetes clients read a kubeconfig (a relative path against the kubeconfig's own folder).
Once they named out/x/lab-run/admin.crt, which a client read as
out/x/lab-run/out/x/lab-run/admin.crt, and every controller died at start."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client, config

from tubedemo.lab import LabOptions
from tubedemo.lab.controlplane import ControlPlane


def _client_files(kubeconfig: Path) -> list[Path]:
    """The CA and client key pair a Kubernetes client uses for ``kubeconfig``."""
    settings = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=settings)
    return [Path(settings.ssl_ca_cert), Path(settings.cert_file), Path(settings.key_file)]


def test_a_control_plane_in_a_relative_folder_writes_kubeconfigs_whose_files_a_client_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "stamp.json").write_text("{}")
    plane = ControlPlane(workdir=Path("out/rehearse-x/lab-run"), bindir=bindir, kwok_stages=[])
    plane.prepare()  # certificates, kubeconfigs and command lines; starts nothing
    run = tmp_path / "out" / "rehearse-x" / "lab-run"
    for kubeconfig in (plane.kubeconfig, plane.nobody_kubeconfig):
        for path in _client_files(kubeconfig):
            assert path.parent == run and path.is_file(), path
    assert plane.kubeconfig == run / "admin.kubeconfig"
    # the components are started with the same kubeconfig
    assert f"--kubeconfig={run / 'admin.kubeconfig'}" in plane.components["kwok"].argv


def test_a_labs_run_folder_is_made_absolute_where_it_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert LabOptions(workdir=Path("out/lab-compare/run")).workdir == (
        tmp_path / "out" / "lab-compare" / "run"
    )
