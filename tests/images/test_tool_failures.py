"""A failed image tool is one line: what failed, the cause in the tool's words, and where its
whole output is kept (a build's log is kilobytes; joined into one line it hid the cause)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests import prepared
from tubedemo.core.errors import ImageError
from tubedemo.images.tool import CAUSE_CHARS, ImageTool, failure_cause, run


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def _kept_log(message: str) -> Path:
    assert "; its whole output: " in message
    return Path(message.rsplit("; its whole output: ", 1)[1])


def test_a_long_failed_build_is_one_line_with_its_error_and_the_log_keeps_every_line(
    tmp_path: Path,
) -> None:
    build = tmp_path / "build.sh"  # prints what a failing buildah build does, at its length
    build.write_text(
        'for i in $(seq 200); do echo "STEP $i: a long build log line of some width"; done\n'
        "echo 'Error: building at STEP \"RUN false\": while running runtime: exit status 1' >&2\n"
        "echo 'cleaning up'\nexit 3\n"
    )
    with pytest.raises(ImageError) as failed:
        run(["sh", str(build)], what="building gateway (gateway/Dockerfile)", stream=False)
    message = failed.value.message
    assert "\n" not in message and len(message) < 600
    assert message.startswith(
        f"building gateway (gateway/Dockerfile) failed (`sh {build} …` exited 3): "
        'Error: building at STEP "RUN false": while running runtime: exit status 1; '
    )
    assert "STEP 17:" not in message
    log = _kept_log(message)
    assert log.name.startswith("sh-build.sh-") and log.suffix == ".log"
    text = log.read_text()
    assert "STEP 1: " in text and "STEP 200: " in text and "exit status 1" in text
    assert "exit code 3" in text


def test_a_streamed_failure_keeps_its_merged_output_too() -> None:
    script = "echo 'npm error code ENOENT'; echo done >&2; exit 1"
    with pytest.raises(ImageError) as failed:
        run(["sh", "-c", script], what="npm ci (web/)", stream=True)
    assert failed.value.message.split(": ", 1)[1].startswith("npm error code ENOENT; ")
    assert "done" in _kept_log(failed.value.message).read_text()


def test_the_cause_is_the_last_error_line_else_the_last_line_clipped() -> None:
    assert failure_cause("a\nERROR: failed to solve: x\nb\n") == "ERROR: failed to solve: x"
    assert failure_cause("denied: requested access to the resource is denied\n") == (
        "denied: requested access to the resource is denied"
    )
    assert failure_cause("one\ntwo\n\n") == "two"
    assert failure_cause("") == "(no output)"
    long = failure_cause("Error: " + "x" * 1000)
    assert len(long) == CAUSE_CHARS and long.endswith("…")


def test_a_real_buildah_push_failure_names_buildahs_cause() -> None:
    if shutil.which("buildah") is None:
        prepared.unavailable("buildah is not installed", "container-tools")
    tool = ImageTool("buildah", shutil.which("buildah") or "buildah")
    with pytest.raises(ImageError) as failed:
        tool.push("localhost/tubedemo/never-built:none", "127.0.0.1:9/x:none", tls_verify=False)
    message = failed.value.message
    assert "\n" not in message
    assert "pushing 127.0.0.1:9/x:none failed (`" in message
    assert "image not known" in message.split("; its whole output: ")[0]
    assert "image not known" in _kept_log(message).read_text()


def test_a_program_that_is_not_there_is_one_line_without_a_log() -> None:
    missing = str(Path(sys.prefix) / "no-such-tool")
    with pytest.raises(ImageError) as failed:
        run([missing, "build"], what="building gateway", stream=False)
    assert "cannot run" in failed.value.message and "its whole output" not in failed.value.message
