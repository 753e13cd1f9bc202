#!/usr/bin/env python3
"""Build (or reuse) the local base image the image tests build our Dockerfiles from.

Upstream bases (python:3.11-slim) cannot be pulled on the test machines, so this makes a stand-in
from Debian packages with mmdebstrap: Debian 12 "bookworm" (its python3 is 3.11, the same minor
version as python:3.11-slim), a venv at /usr/local/python whose `python` and `pip` are first on
PATH (as in the python image), `useradd` (passwd) and the CA certificates. The host's extra CA
certificates (/usr/local/share/ca-certificates, e.g. a TLS-inspecting egress proxy's) are added
and pip is told to use the system bundle, so `pip install` inside a build works where the host's
does. The image is the base's only job: it is never pushed.

Cached by its inputs: ~/.cache/tubedemo/images/base-<key>/rootfs.tar (+ a stamp) and, in the
containers storage, localhost/tubedemo-test-base:<key>. The key hashes the suite, mirror,
package list, the recipe below and the host CA files, so a change to any of them rebuilds.

Needs root (mmdebstrap's root mode, buildah's storage), mmdebstrap and buildah (both installed
by scripts/prepare-tests). Standard library only.

Usage:
  scripts/build-image-base               build if missing, print the image reference
  scripts/build-image-base --print-image print the reference (no build)
  scripts/build-image-base --check       exit 0 when present, 1 when not
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, before the virtualenv exists: tubedemo's stdlib-only modules from the checkout.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tubedemo.core.cache import cache_dir

SUITE = "bookworm"
"""Debian 12: python3 3.11, like the python:3.11-slim the Dockerfiles default to."""
MIRROR = os.environ.get("TUBEDEMO_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = ("python3", "python3-venv", "ca-certificates", "passwd")
HOST_CAS = Path("/usr/local/share/ca-certificates")
NAME = "localhost/tubedemo-test-base"
ENV_PATH = "/usr/local/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Run in the finished tree (mmdebstrap --customize-hook, "$1" is the root).
CUSTOMIZE = (
    'cp -r /usr/local/share/ca-certificates/. "$1/usr/local/share/ca-certificates/" 2>/dev/null'
    " || true",
    'chroot "$1" update-ca-certificates --fresh >/dev/null',
    'chroot "$1" python3 -m venv /usr/local/python',
    'ln -sf /usr/local/python/bin/python "$1/usr/local/bin/python"',
    'ln -sf /usr/local/python/bin/pip "$1/usr/local/bin/pip"',
    "printf '[global]\\ncert = /etc/ssl/certs/ca-certificates.crt\\n' > \"$1/etc/pip.conf\"",
    'rm -rf "$1/var/cache/apt/archives/"*.deb "$1/var/lib/apt/lists/"*',
)
RECIPE = 1
"""Bump when the recipe changes in a way the other inputs do not show."""


def cache_root() -> Path:
    return cache_dir("images")


def key() -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([RECIPE, SUITE, MIRROR, PACKAGES, CUSTOMIZE, ENV_PATH]).encode())
    if HOST_CAS.is_dir():
        for ca in sorted(HOST_CAS.rglob("*.crt")):
            digest.update(ca.name.encode() + ca.read_bytes())
    return digest.hexdigest()[:12]


def image() -> str:
    return f"{NAME}:{key()}"


def folder() -> Path:
    return cache_root() / f"base-{key()}"


def _in_storage(ref: str) -> bool:
    if shutil.which("buildah") is None:
        return False
    found = subprocess.run(
        ["buildah", "inspect", "--type", "image", ref], capture_output=True, check=False
    )
    return found.returncode == 0


def is_current() -> bool:
    """The tarball for this key is cached and imported into the containers storage."""
    return (folder() / "stamp").is_file() and _in_storage(image())


def _run(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise SystemExit(f"build-image-base: `{' '.join(cmd)}` exited {done.returncode}:\n{tail}")
    return done.stdout.strip()


def build_tarball(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        tar = Path(tmp) / "rootfs.tar"
        cmd = [
            "mmdebstrap",
            "--quiet",
            "--mode=root",
            "--variant=apt",
            f"--include={','.join(PACKAGES)}",
            *(f"--customize-hook={hook}" for hook in CUSTOMIZE),
            SUITE,
            str(tar),
            MIRROR,
        ]
        _run(cmd)
        tar.rename(target / "rootfs.tar")


def import_tarball(tar: Path, ref: str) -> None:
    """rootfs.tar -> an image in the containers storage (what `podman import` does)."""
    ctr = _run(["buildah", "from", "--quiet", "scratch"])
    try:
        _run(["buildah", "add", "--quiet", ctr, str(tar), "/"])
        _run(["buildah", "config", "--env", f"PATH={ENV_PATH}", "--env", "LANG=C.UTF-8",
              "--cmd", "python3", "--os", "linux", "--arch", "amd64", ctr])  # fmt: skip
        _run(["buildah", "commit", "--quiet", "--rm", ctr, ref])
    except BaseException:
        subprocess.run(["buildah", "rm", ctr], capture_output=True, check=False)
        raise


def ensure() -> str:
    ref, target = image(), folder()
    tar = target / "rootfs.tar"
    if not (target / "stamp").is_file() or not tar.is_file():
        start = time.monotonic()
        build_tarball(target)
        seconds = round(time.monotonic() - start, 1)
        stamp = {"key": key(), "suite": SUITE, "packages": PACKAGES, "seconds": seconds}
        (target / "stamp").write_text(json.dumps(stamp) + "\n")
    if not _in_storage(ref):
        import_tarball(tar, ref)
    return ref


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--print-image", action="store_true", help="print the reference only")
    parser.add_argument("--check", action="store_true", help="exit 0 when present, else 1")
    args = parser.parse_args(argv)
    if args.print_image:
        print(image())
        return 0
    if args.check:
        return 0 if is_current() else 1
    for tool in ("mmdebstrap", "buildah"):
        if shutil.which(tool) is None:
            print(f"build-image-base: {tool} is not installed: run scripts/prepare-tests",
                  file=sys.stderr)  # fmt: skip
            return 1
    print(ensure())
    return 0


if __name__ == "__main__":
    sys.exit(main())
