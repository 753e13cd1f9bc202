"""term_and_hangup_as_interrupt: SIGTERM and SIGHUP take the Ctrl-C path; a hang-up first sends
what was the terminal's output to /dev/null. Each case is a real process sent the real signal
(signal handlers belong to a process's main thread, not to a test)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.terminal import as_from_a_terminal, take_terminal

PROGRAM = textwrap.dedent(
    """
    import os, signal, sys, time
    from tubedemo.core.signals import term_and_hangup_as_interrupt

    if sys.argv[1] == "nohup":
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with term_and_hangup_as_interrupt():
            print("before", flush=True)
            print("before", file=sys.stderr, flush=True)
            if sys.argv[2] == "terminal":
                os.read(0, 1)  # until the terminal hangs up and the kernel sends SIGHUP
            else:
                os.kill(os.getpid(), getattr(signal, sys.argv[2]))
            time.sleep(2)
            print("not interrupted", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        print("interrupted", file=sys.stderr, flush=True)
    print("after:", *(signal.getsignal(s).name for s in (signal.SIGTERM, signal.SIGHUP)))
    """
)


@pytest.mark.parametrize(
    ("nohup", "sig", "stdout", "stderr"),
    [
        # the output is left alone, the previous handlers come back
        ("-", "SIGTERM", ["before", "interrupted", "after: SIG_DFL SIG_DFL"], "before interrupted"),
        # stdout is a regular file (a log: kept); stderr is a pipe, whose reader a hang-up takes
        # away with the terminal: nothing written to it afterwards may fail, so none arrives
        ("-", "SIGHUP", ["before", "interrupted", "after: SIG_DFL SIG_DFL"], "before"),
        # nohup: the hang-up stays ignored, the block runs to its end
        ("nohup", "SIGHUP", ["before", "not interrupted", "after: SIG_DFL SIG_IGN"], "before"),
    ],
    ids=["SIGTERM", "SIGHUP", "nohup-SIGHUP"],
)
def test_a_signal_takes_the_ctrl_c_path(
    tmp_path: Path, nohup: str, sig: str, stdout: list[str], stderr: str
) -> None:
    with (tmp_path / "stdout.txt").open("w") as out:
        proc = subprocess.run(
            [sys.executable, "-c", PROGRAM, nohup, sig],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE, text=True, timeout=30,
            preexec_fn=as_from_a_terminal,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "stdout.txt").read_text().splitlines() == stdout
    assert proc.stderr.split() == stderr.split()


def test_after_a_real_hang_up_printing_to_the_dead_terminal_does_not_fail(tmp_path: Path) -> None:
    # The program's stderr is a pty that is closed under it; once hung up, every write to it
    # would raise EIO. Its stdout (a file) shows the except clause ran to the end.
    master, slave = pty.openpty()
    with (tmp_path / "stdout.txt").open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", PROGRAM, "-", "terminal"],
            stdin=slave, stdout=out, stderr=slave,
            start_new_session=True, preexec_fn=take_terminal,
        )  # fmt: skip
    os.close(slave)
    assert os.read(master, 100).strip() == b"before"
    os.close(master)  # the terminal window closes
    assert proc.wait(timeout=30) == 0
    assert (tmp_path / "stdout.txt").read_text().splitlines() == [
        "before",
        "interrupted",
        "after: SIG_DFL SIG_DFL",
    ]
