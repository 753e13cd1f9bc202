"""The only module that runs the image tool (docker, podman or buildah) and npm.

``detect`` picks the tool: ``--tool`` if given, else docker when its daemon answers, else podman,
else buildah, whichever is on PATH. Builds use the repository root as context and the recipe's
ignore file; buildah builds with ``--isolation chroot`` (no OCI runtime needed, works in CI
containers) unless ``BUILDAH_ISOLATION`` says otherwise, and caches layers (``--layers``), so a
rebuild with unchanged inputs takes seconds; ``--force-rm`` leaves no container behind when a
build fails. Pushes report the digest the registry stored.

Every failure becomes an ImageError naming the command and the last lines of its output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tubedemo.core.errors import ImageError
from tubedemo.images.plan import RECIPES, Recipe

ToolName = Literal["docker", "podman", "buildah"]
TOOLS: tuple[ToolName, ...] = ("docker", "podman", "buildah")


def run(cmd: Sequence[str], *, what: str, stream: bool, stdin: str | None = None,
        cwd: Path | None = None) -> str:  # fmt: skip
    """Run ``cmd``; its output goes to stderr as it comes when ``stream``. Returns stdout+err.

    On a non-zero exit (or a missing program) raise ImageError: ``what`` failed, the exit code
    and the output's last lines.
    """
    tail: deque[str] = deque(maxlen=15)
    out: list[str] = []
    try:
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        raise ImageError(f"{what}: cannot run {cmd[0]}: {exc.strerror}") from exc
    if stdin is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
    assert proc.stdout is not None
    for line in proc.stdout:
        out.append(line)
        tail.append(line.rstrip("\n"))
        if stream:
            sys.stderr.write(line)
            sys.stderr.flush()
    code = proc.wait()
    if code != 0:
        last = " | ".join(t for t in tail if t.strip())
        raise ImageError(f"{what} failed (`{' '.join(cmd[:3])} …` exited {code}): {last}")
    return "".join(out)


@dataclass(frozen=True)
class ImageTool:
    name: ToolName
    exe: str

    # -- build ----------------------------------------------------------------------------------

    def build_command(
        self, recipe: Recipe, repo: Path, ref: str, platform: str, build_args: dict[str, str]
    ) -> list[str]:
        args = [f"--build-arg={k}={v}" for k, v in build_args.items()]
        dockerfile = str(repo / recipe.dockerfile)
        if self.name == "docker":
            # BuildKit reads <Dockerfile>.dockerignore next to the Dockerfile itself.
            return [self.exe, "build", f"--platform={platform}", "-f", dockerfile, *args,
                    "-t", ref, str(repo)]  # fmt: skip
        ignore = f"--ignorefile={repo / recipe.ignorefile}"
        if self.name == "podman":
            return [self.exe, "build", "--layers", "--force-rm", f"--platform={platform}",
                    "-f", dockerfile, ignore, *args, "-t", ref, str(repo)]  # fmt: skip
        isolation = [] if os.environ.get("BUILDAH_ISOLATION") else ["--isolation=chroot"]
        return [self.exe, "bud", *isolation, "--layers", "--force-rm",
                f"--platform={platform}", "-f", dockerfile, ignore, *args, "-t", ref,
                str(repo)]  # fmt: skip

    def build(
        self,
        recipe: Recipe,
        repo: Path,
        ref: str,
        platform: str,
        build_args: dict[str, str],
        stream: bool = True,
    ) -> None:
        cmd = self.build_command(recipe, repo, ref, platform, build_args)
        run(cmd, what=f"building {recipe.name} ({recipe.dockerfile})", stream=stream)

    def exists(self, ref: str) -> bool:
        if self.name == "buildah":
            cmd = [self.exe, "inspect", "--type", "image", ref]
        else:
            cmd = [self.exe, "image", "inspect", ref]
        return subprocess.run(cmd, capture_output=True, check=False).returncode == 0

    # -- push -----------------------------------------------------------------------------------

    def login(self, registry: str, username: str, password: str, tls_verify: bool) -> None:
        tls = [] if tls_verify or self.name == "docker" else ["--tls-verify=false"]
        cmd = [self.exe, "login", *tls, "--username", username, "--password-stdin", registry]
        run(cmd, what=f"logging in to {registry}", stream=False, stdin=password + "\n")

    def push(self, local: str, remote: str, tls_verify: bool, stream: bool = True) -> str:
        """Push ``local`` as ``remote``; returns the digest (``sha256:...``) the registry has."""
        if self.name == "docker":
            run([self.exe, "tag", local, remote], what=f"tagging {remote}", stream=False)
            run([self.exe, "push", remote], what=f"pushing {remote}", stream=stream)
            out = run(
                [
                    self.exe,
                    "image",
                    "inspect",
                    "--format",
                    "{{range .RepoDigests}}{{println .}}{{end}}",
                    remote,
                ],
                what=f"reading the digest of {remote}",
                stream=False,
            )
            repo = remote.rsplit(":", 1)[0]
            for line in out.split():
                if line.startswith(repo + "@"):
                    return line.split("@", 1)[1]
            raise ImageError(f"pushed {remote}, but docker reports no digest for it")
        tls = [] if tls_verify else ["--tls-verify=false"]
        with tempfile.TemporaryDirectory() as tmp:
            digestfile = Path(tmp) / "digest"
            run([self.exe, "push", *tls, f"--digestfile={digestfile}", local,
                 f"docker://{remote}"], what=f"pushing {remote}", stream=stream)  # fmt: skip
            return digestfile.read_text().strip()


def _docker_daemon_answers(exe: str) -> bool:
    try:
        probe = subprocess.run(
            [exe, "version", "--format", "{{.Server.Version}}"],
            capture_output=True,
            timeout=15,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False
    return probe.returncode == 0


def detect(preferred: ToolName | None = None) -> ImageTool:
    """The tool to use: ``preferred``, else docker (if its daemon answers), podman, buildah."""
    if preferred is not None:
        exe = shutil.which(preferred)
        if exe is None:
            raise ImageError(f"--tool {preferred}: {preferred} is not on PATH")
        return ImageTool(preferred, exe)
    for name in TOOLS:
        exe = shutil.which(name)
        if exe is None:
            continue
        if name == "docker" and not _docker_daemon_answers(exe):
            continue
        return ImageTool(name, exe)
    raise ImageError(
        "no image tool: install docker (with its daemon running), podman or buildah, or pass --tool"
    )


# -- the web page -------------------------------------------------------------------------------


def page_is_current(repo: Path) -> bool:
    """web/dist/index.html exists and is newer than every source of the page."""
    built = repo / "web" / "dist" / "index.html"
    if not built.is_file():
        return False
    web = repo / "web"
    sources = [web / "index.html", web / "package-lock.json", web / "package.json"]
    sources += [p for p in (web / "src").rglob("*") if p.is_file()]
    newest = max((p.stat().st_mtime for p in sources if p.is_file()), default=0.0)
    return built.stat().st_mtime >= newest


def build_page(repo: Path, stream: bool = True) -> None:
    """``npm ci`` (when node_modules is missing) and ``npm run build`` in web/."""
    npm = shutil.which("npm")
    if npm is None:
        raise ImageError(
            "the gateway image needs the built page and npm is not on PATH: install Node 20+ "
            "or build it elsewhere (cd web && npm ci && npm run build)"
        )
    web = repo / "web"
    if not (web / "node_modules").is_dir():
        run([npm, "ci", "--no-audit", "--no-fund"], what="npm ci (web/)", stream=stream, cwd=web)
    run([npm, "run", "build"], what="building the page (npm run build in web/)", stream=stream,
        cwd=web)  # fmt: skip


def repo_root(start: Path | None = None) -> Path:
    """The checkout to build from: the first folder up from ``start`` (default: the current
    one) holding our Dockerfiles, else the one this package was installed from (editable)."""
    here = (start or Path.cwd()).resolve()
    candidates = [here, *here.parents, Path(__file__).resolve().parents[2]]
    for folder in candidates:
        if all((folder / r.dockerfile).is_file() for r in RECIPES):
            return folder
    raise ImageError(
        "images are built from a checkout of the tubedemo repository: run this in one "
        "(git clone, then tubedemo images build)"
    )
