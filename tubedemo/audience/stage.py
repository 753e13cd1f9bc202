"""Where a running rehearsal's gateway is: the local stage file.

`tubedemo rehearse` publishes its gateway here while it runs: ``.tubedemo/rehearsal.json`` in
the folder it was started from (the talk's folder, where ``demo.yaml`` is found too), mode 0600
in a 0700 folder, holding the gateway's loopback URL, its admin token, the audience URL and the
rehearsal's process id. `mode`, `winners`, `session`, `qr`, `status` and `load` run from the
same folder find it by themselves, as they find the cluster after `up`, and the token never
appears on a command line. The rehearsal removes the file when it ends; a file whose process is
gone (a rehearsal killed outright) is stale and ignored.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

STAGE_FILE = Path(".tubedemo") / "rehearsal.json"
"""The stage file, relative to the folder the rehearsal was started from."""


@dataclass(frozen=True)
class Stage:
    """A running rehearsal, as its stage file describes it."""

    gateway_url: str
    """The gateway on loopback (what the presenter's commands call)."""
    admin_token: str
    audience_url: str
    """What phones open (the LAN address, or the --host the gateway listens on)."""
    pid: int
    """The rehearsal's process: the file is stale once it is gone."""
    speed: float = 1.0


def stage_path(folder: Path | None = None) -> Path:
    return (folder or Path.cwd()) / STAGE_FILE


def publish(stage: Stage, folder: Path | None = None) -> Path:
    """Write the stage file (0600, in a 0700 folder) atomically; its path."""
    path = stage_path(folder)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".rehearsal-", suffix=".json", dir=path.parent)
    try:  # mkstemp's file is 0600 from the start: the token is never readable by others
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(asdict(stage), out)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def withdraw(path: Path, pid: int) -> None:
    """Remove the stage file if it is still this process's (a second rehearsal may own it)."""
    found = _read(path)
    if found is None or found.pid == pid:
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, someone else's
    return True


def _read(path: Path) -> Stage | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Stage(
            gateway_url=str(data["gateway_url"]),
            admin_token=str(data["admin_token"]),
            audience_url=str(data.get("audience_url") or ""),
            pid=int(data["pid"]),
            speed=float(data.get("speed", 1.0)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def running_rehearsal(folder: Path | None = None) -> Stage | None:
    """The rehearsal running from ``folder`` (default: this one), else None (no file, an
    unreadable one, or one whose process is gone)."""
    found = _read(stage_path(folder))
    if found is None or not _alive(found.pid):
        return None
    return found
