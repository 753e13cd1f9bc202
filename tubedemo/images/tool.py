"""The only module that runs the image tool (docker, podman or buildah) and npm.

``detect`` picks the tool: ``--tool`` if given, else docker when its daemon answers, else podman,
else buildah, whichever is on PATH. Builds use the repository root as context and the recipe's
ignore file; buildah builds with ``--isolation chroot`` (no OCI runtime needed, works in CI
containers) unless ``BUILDAH_ISOLATION`` says otherwise, and caches layers (``--layers``), so a
rebuild with unchanged inputs takes seconds; ``--force-rm`` leaves no container behind when a
build fails. Pushes report the digest the registry stored.

Every failure becomes a one-line ImageError: the command, the cause (the tool's last error line)
and the path of a log with its whole output (under ~/.cache/tubedemo/images/logs).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tubedemo.core import processes
from tubedemo.core.cache import cache_dir
from tubedemo.core.errors import ExternalToolError, ImageError
from tubedemo.core.resources import repo_root
from tubedemo.images.plan import RECIPES, Recipe

ToolName = Literal["docker", "podman", "buildah"]
TOOLS: tuple[ToolName, ...] = ("docker", "podman", "buildah")

_ERROR_LINE = re.compile(r"\berror\b|\bdenied\b|\bunauthorized\b|\bnot found\b", re.IGNORECASE)
"""How the tools word a failure: buildah/podman `Error: ...`, BuildKit `ERROR: failed to solve`,
a registry's `denied:` or `unauthorized:`, npm's `npm error`."""
CAUSE_CHARS = 300
"""The cause is clipped to this many characters: one line on a terminal, the log has the rest."""


def failure_cause(output: str) -> str:
    """The line of a failed tool's output that says why: its last error line, else its last
    line, clipped to CAUSE_CHARS. Pure."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        return "(no output)"
    errors = [line for line in lines if _ERROR_LINE.search(line)]
    cause = errors[-1] if errors else lines[-1]
    return cause if len(cause) <= CAUSE_CHARS else cause[: CAUSE_CHARS - 1] + "…"


def _keep_log(cmd: Sequence[str], ran: processes.Ran) -> Path | None:
    """The failed command's whole output in a log of its own; None if it cannot be written."""
    folder = cache_dir("images", "logs")
    words = [Path(word).name for word in cmd[:2]]  # buildah-build-..., npm-ci-...
    name = re.sub(r"[^A-Za-z0-9._-]+", "", "-".join(words))[:40] or "tool"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".log", dir=folder)
        with os.fdopen(handle, "w", encoding="utf-8") as log:
            log.write(f"$ {' '.join(cmd)}\nexit code {ran.code}\n\n{ran.output}")
            if ran.errors:
                log.write(f"\n--- stderr ---\n{ran.errors}")
    except OSError:
        return None
    return Path(path)


def run(cmd: Sequence[str], *, what: str, stream: bool, stdin: str | None = None,
        cwd: Path | None = None) -> str:  # fmt: skip
    """Run ``cmd`` (through the process seam); its output goes to stderr as it comes when
    ``stream``. Returns stdout+err.

    On a non-zero exit (or a missing program) raise ImageError in one line: ``what`` failed,
    the exit code, the cause and where the whole output is kept.
    """
    try:
        ran = processes.run(cmd, what=what, stream=stream, stdin=stdin, cwd=cwd)
    except ExternalToolError as exc:
        raise ImageError(exc.message) from exc
    if ran.code != 0:
        log = _keep_log(cmd, ran)
        where = f"; its whole output: {log}" if log is not None else ""
        cause = failure_cause(ran.output + "\n" + ran.errors)
        raise ImageError(
            f"{what} failed (`{' '.join(cmd[:3])} …` exited {ran.code}): {cause}{where}"
        )
    return ran.output + ran.errors


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
        try:
            return processes.run(cmd, what=f"looking for {ref}").code == 0
        except ExternalToolError:
            return False

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
        probe = processes.run(
            [exe, "version", "--format", "{{.Server.Version}}"],
            what="asking docker's daemon",
            timeout=15,
        )
    except ExternalToolError:
        return False
    return probe.code == 0


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


def build_checkout(start: Path | None = None) -> Path:
    """The checkout to build from: the first folder up from ``start`` (default: the current
    one) holding our Dockerfiles, else the checkout this package runs from (an editable
    install; ``core.resources.repo_root``)."""
    here = (start or Path.cwd()).resolve()
    running_from = repo_root()
    candidates = [here, *here.parents, *([running_from] if running_from is not None else [])]
    for folder in candidates:
        if all((folder / r.dockerfile).is_file() for r in RECIPES):
            return folder
    raise ImageError(
        "images are built from a checkout of the tubedemo repository: run this in one "
        "(git clone, then tubedemo images build)"
    )
