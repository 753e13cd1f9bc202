"""The process seam with real child processes: death signal, bounded stop, the readiness wait,
short commands, one-line errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from threading import Thread

import pytest

from tests.conftest import wait_until
from tubedemo.core.errors import ExternalToolError, TubedemoError
from tubedemo.core.processes import Child, free_port, http_ok, output_of, run, wait_ready

PY = sys.executable


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


# A parent that starts one child through the seam with the given death signal, prints the
# child's pid, then waits to be killed; the child ignores SIGTERM (as a Go controller draining
# may seem to) unless told otherwise.
PARENT = """
import signal, sys, time
from pathlib import Path
from tubedemo.core.processes import Child
death = None if sys.argv[1] == "none" else signal.Signals[sys.argv[1]]
child = Child("sleeper", [sys.executable, "-c", sys.argv[2]], Path(sys.argv[3]),
              death_signal=death).start()
print(child.pid, flush=True)
time.sleep(60)
"""
SLEEP = "import time; time.sleep(60)"
SLEEP_IGNORING_TERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
)


def _orphan(death: str, code: str, log: Path) -> int:
    """Start PARENT, read its child's pid, kill the parent with SIGKILL; the child's pid."""
    parent = subprocess.Popen(
        [PY, "-c", PARENT, death, code, str(log)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    wait_until("the child to run its code", lambda: log.exists(), 10)
    time.sleep(0.3)  # past the interpreter's start, into the sleep
    parent.kill()
    parent.wait()
    return pid


@pytest.mark.parametrize("death", ["SIGTERM", "SIGKILL"])
def test_a_child_dies_with_its_parent_by_the_signal_it_was_given(
    tmp_path: Path, death: str
) -> None:
    pid = _orphan(death, SLEEP, tmp_path / "child.log")
    wait_until(f"the child to die of {death}", lambda: not _alive(pid), 10)


def test_sigterm_at_parent_death_does_not_kill_a_child_that_ignores_it_but_sigkill_does(
    tmp_path: Path,
) -> None:
    # Why the lab's Go components get SIGKILL: TERM can be held up, KILL cannot.
    stubborn = _orphan("SIGTERM", SLEEP_IGNORING_TERM, tmp_path / "a.log")
    try:
        time.sleep(1.0)
        assert _alive(stubborn)
    finally:
        os.kill(stubborn, signal.SIGKILL)
    killed = _orphan("SIGKILL", SLEEP_IGNORING_TERM, tmp_path / "b.log")
    wait_until("the child to die of SIGKILL", lambda: not _alive(killed), 10)


def test_a_child_without_a_death_signal_outlives_its_parent(tmp_path: Path) -> None:
    pid = _orphan("none", SLEEP, tmp_path / "child.log")
    try:
        time.sleep(1.0)
        assert _alive(pid)
    finally:
        os.kill(pid, signal.SIGKILL)


def test_stop_is_bounded_kills_what_ignores_sigterm_and_takes_the_grandchildren(
    tmp_path: Path,
) -> None:
    grandchild = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, signal, time;"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        f"p = subprocess.Popen([sys.executable, '-c', {SLEEP_IGNORING_TERM!r}]);"
        f"open({str(grandchild)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    )
    child = Child("stubborn", [PY, "-c", code], tmp_path / "stubborn.log").start()
    wait_until("the grandchild to start", lambda: grandchild.exists() and grandchild.read_text())
    began = time.monotonic()
    assert child.stop(grace=0.5) == -signal.SIGKILL
    assert time.monotonic() - began < 5
    wait_until("the grandchild to be gone", lambda: not _alive(int(grandchild.read_text())), 5)
    assert child.stop() == -signal.SIGKILL  # idempotent


def test_stop_with_interrupt_sends_sigint_first(tmp_path: Path) -> None:
    code = (
        "import signal, sys, time\n"
        "def bye(*_): print('interrupted', flush=True); sys.exit(3)\n"
        "signal.signal(signal.SIGINT, bye); print('up', flush=True); time.sleep(60)"
    )
    child = Child("k6-like", [PY, "-c", code], tmp_path / "k6.log").start()
    wait_until("it to run", lambda: "up" in child.tail())
    assert child.stop(grace=2, interrupt=5) == 3
    assert "interrupted" in child.tail()


def test_a_missing_program_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ExternalToolError, match=r"^gizmo could not start \(/nonexistent/gizmo\)"):
        Child("gizmo", ["/nonexistent/gizmo"], tmp_path / "gizmo.log").start()


def test_read_line_returns_the_announced_line_and_the_rest_goes_to_the_log(
    tmp_path: Path,
) -> None:
    code = (
        "import sys, time; print('PORT 4242', flush=True);"
        "print('oops', file=sys.stderr, flush=True); time.sleep(60)"
    )
    child = Child("announcer", [PY, "-c", code], tmp_path / "a.log", announce=True).start()
    try:
        assert child.read_line("PORT ", timeout=10) == "PORT 4242"
        wait_until("stderr in the log", lambda: "oops" in child.tail())
    finally:
        child.stop()


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/ready" else 503)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def test_wait_ready_returns_when_the_url_answers_200() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Ok)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        wait_ready(f"{base}/ready", what="the stand-in", timeout=5)
        assert http_ok(f"{base}/ready") and not http_ok(f"{base}/other")
    finally:
        server.shutdown()


def test_wait_ready_ends_at_once_in_one_line_when_a_watched_child_dies(tmp_path: Path) -> None:
    code = "import sys; print('listen tcp: address already in use', file=sys.stderr); sys.exit(4)"
    child = Child("gateway", [PY, "-c", code], tmp_path / "gateway.log").start()
    began = time.monotonic()
    with pytest.raises(ExternalToolError) as failed:
        wait_ready(
            f"http://127.0.0.1:{free_port()}/readyz",
            what="gateway ready",
            children=[child],
            timeout=60,
        )
    assert time.monotonic() - began < 10
    message = failed.value.message
    assert "\n" not in message
    assert message == (
        "gateway exited (code 4) while waiting for gateway ready: listen tcp: address already "
        f"in use; see {tmp_path / 'gateway.log'}"
    )


def test_wait_ready_gives_up_at_its_deadline_naming_the_logs(tmp_path: Path) -> None:
    calls: list[float] = []

    def not_yet() -> bool:
        calls.append(time.monotonic())
        raise TubedemoError("the API server is not up yet")  # counts as "not ready"

    with pytest.raises(
        ExternalToolError, match=r"^CRDs established: not within 0.5 s; see /x/logs$"
    ):
        wait_ready(not_yet, what="CRDs established", timeout=0.5, logs=Path("/x/logs"))
    assert len(calls) >= 2


def test_run_returns_the_exit_code_and_output_and_times_out_in_one_line() -> None:
    ran = run(
        [PY, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(2)"], what="x"
    )
    assert (ran.code, ran.output.strip(), ran.errors.strip()) == (2, "out", "err")
    assert ran.tail() == "out | err"
    with pytest.raises(ExternalToolError, match=r"^slow thing: .* did not finish within 0.5 s$"):
        run([PY, "-c", "import time; time.sleep(30)"], what="slow thing", timeout=0.5)
    with pytest.raises(ExternalToolError, match=r"^go env: cannot run /nonexistent/go: "):
        run(["/nonexistent/go", "env"], what="go env")


def test_output_of_a_failing_command_is_one_line_with_its_last_words() -> None:
    assert output_of([PY, "-c", "print(' /mod/cache ')"], what="x") == "/mod/cache"
    with pytest.raises(ExternalToolError, match=r"^finding KWOK's module: .* exited 1: no go$"):
        output_of([PY, "-c", "import sys; sys.exit('no go')"], what="finding KWOK's module")


def test_a_streamed_run_keeps_the_merged_output() -> None:
    code = "import sys; print('step 1', flush=True); print('warn', file=sys.stderr, flush=True)"
    ran = run([PY, "-c", code], what="build", stream=True)
    assert ran.code == 0 and "step 1" in ran.output and "warn" in ran.output
