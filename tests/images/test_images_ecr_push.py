"""`tubedemo images push` to an ECR registry, end to end, without leaving the machine.

Inside a network namespace of the test's own (tests/netns.py), the ECR host name
``123456789012.dkr.ecr.us-east-1.amazonaws.com`` resolves to the namespace's loopback
(`ip netns exec` mounts /etc/netns/<ns>/hosts over /etc/hosts), where a real registry
(Debian's docker-registry) serves TLS with a certificate for that name from a CA the test
made (trusted through the namespace's own /etc/containers/certs.d), and moto in server mode
answers the ECR API (AWS_ENDPOINT_URL). So the CLI really creates the repositories through
boto3, logs buildah in with the decoded authorization token, and pushes over TLS.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests import netns
from tests.images.pods import REPO

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

ECR_HOST = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
MOTO_PORT = 5000


def _cert(tmp: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for ECR_HOST signed by it: (ca.crt, tls.crt, tls.key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tubedemo test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ECR_HOST)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(ECR_HOST)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (tmp / "ca.crt", tmp / "tls.crt", tmp / "tls.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@contextmanager
def _fake_aws(tmp: Path) -> Iterator[netns.TestHost]:
    """The namespace with its /etc overrides, the TLS registry on :443 and moto on :5000."""
    with netns.test_host() as host:
        etc = Path("/etc/netns") / host.name
        procs: list[subprocess.Popen[bytes]] = []
        try:
            etc.mkdir(parents=True)
            (etc / "hosts").write_text(f"127.0.0.1 localhost {ECR_HOST}\n")
            shutil.copytree("/etc/containers", etc / "containers")
            ca, crt, key = _cert(tmp)
            certs = etc / "containers" / "certs.d" / ECR_HOST
            certs.mkdir(parents=True)
            shutil.copy(ca, certs / "ca.crt")
            config = tmp / "registry.yml"
            config.write_text(
                yaml.safe_dump(
                    {
                        "version": 0.1,
                        "log": {"level": "warn"},
                        "storage": {"filesystem": {"rootdirectory": str(tmp / "blobs")}},
                        "http": {
                            "addr": "127.0.0.1:443",
                            "tls": {"certificate": str(crt), "key": str(key)},
                        },
                    }
                )
            )
            log = (tmp / "servers.log").open("wb")
            procs.append(
                subprocess.Popen(
                    host.wrap(["docker-registry", "serve", str(config)]), stdout=log, stderr=log
                )
            )
            moto = [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1",
                    "-p", str(MOTO_PORT)]  # fmt: skip
            procs.append(subprocess.Popen(host.wrap(moto), stdout=log, stderr=log))
            # both up: the registry's TLS answers /v2/ and moto answers HTTP, inside the netns
            probe = f"""
import socket, ssl, time, urllib.request
ctx = ssl.create_default_context(cafile={str(ca)!r})
for _ in range(150):
    try:
        urllib.request.urlopen("https://{ECR_HOST}/v2/", context=ctx, timeout=2)
        socket.create_connection(("127.0.0.1", {MOTO_PORT}), timeout=2).close()
        break
    except OSError:
        time.sleep(0.2)
else:
    raise SystemExit("registry or moto did not come up")
"""
            subprocess.run(host.wrap([sys.executable, "-c", probe]), check=True, timeout=60)
            yield host
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=10)
            shutil.rmtree(etc, ignore_errors=True)


def test_push_to_ecr_creates_the_repositories_logs_in_with_boto3_and_pushes_over_tls(
    built_images: dict[str, str], image_tag: str, tmp_path: Path
) -> None:
    config = tmp_path / "demo.yaml"
    subprocess.run(
        [sys.executable, "-m", "tubedemo", "init", str(config)],
        check=True, capture_output=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{MOTO_PORT}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "REGISTRY_AUTH_FILE": str(tmp_path / "auth.json"),  # not the machine's auth file
    }
    push = [sys.executable, "-m", "tubedemo", "images", "push", "--registry", ECR_HOST,
            "--tool", "buildah", f"--tag={image_tag}", "--write", "-c", str(config)]  # fmt: skip
    with _fake_aws(tmp_path) as host:
        first = subprocess.run(
            host.wrap(push), capture_output=True, text=True, cwd=REPO, env=env, timeout=900
        )
        assert first.returncode == 0, first.stdout + first.stderr
        assert "created ECR repository tubedemo/gateway" in first.stdout
        assert "created ECR repository tubedemo/vllm-standin" in first.stdout
        assert f"logged in to {ECR_HOST}" in first.stdout
        auth = json.loads((tmp_path / "auth.json").read_text())
        assert ECR_HOST in auth["auths"]
        ref = yaml.safe_load(config.read_text())["gateway"]["image"]
        assert ref.startswith(f"{ECR_HOST}/tubedemo/gateway:{image_tag}@sha256:")
        repository, digest = ref.split(f":{image_tag}@")
        inspected = subprocess.run(
            host.wrap(["skopeo", "inspect", f"docker://{repository}@{digest}"]),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert inspected.returncode == 0, inspected.stderr
        assert json.loads(inspected.stdout)["Digest"] == digest
        # Again: the repositories exist now, nothing is created, the same digest comes back.
        again = subprocess.run(
            host.wrap(push), capture_output=True, text=True, cwd=REPO, env=env, timeout=900
        )
        assert again.returncode == 0, again.stdout + again.stderr
        assert "created ECR repository" not in again.stdout
        assert yaml.safe_load(config.read_text())["gateway"]["image"] == ref
