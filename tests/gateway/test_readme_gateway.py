"""The README's Gateway section, run as written: the command starts a gateway that serves."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import wait_until
from tubedemo.core.processes import free_port

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_gateway_command() -> list[str]:
    """The first code block under '## Gateway', its lines joined, the [optional] parts left out."""
    section = README.read_text(encoding="utf-8").split("\n## Gateway\n", 1)[1]
    block = section.split("```\n", 2)[1]
    command = re.sub(r"\s*\[[^\]]*\]", "", block.replace("\\\n", " "))
    return shlex.split(command)


def test_the_readmes_gateway_command_starts_a_gateway_that_answers(tmp_path: Path) -> None:
    words = readme_gateway_command()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEDEMO_")}
    while "=" in words[0]:  # VAR=value prefixes, as a shell reads them
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    assert words[:3] == ["python", "-m", "gateway"], words
    port = free_port()  # the README's 8080, moved where nothing else listens
    argv = [sys.executable, *words[1:]]
    argv[argv.index("--port") + 1] = str(port)
    with subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    ) as gateway:  # fmt: skip
        try:

            def answers() -> bool:
                assert gateway.poll() is None, gateway.communicate()[0]
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/config", timeout=2).is_success
                except httpx.TransportError:
                    return False

            wait_until("the README's gateway to answer /config", answers, 30)
            admin = httpx.get(
                f"http://127.0.0.1:{port}/api/admin/sessions",
                headers={"Authorization": "Bearer tubedemo-local"},
                timeout=5,
            )
            assert admin.status_code == 200, admin.text
            assert (tmp_path / "tubedemo-data").is_dir()
        finally:
            os.killpg(gateway.pid, signal.SIGTERM)
            gateway.wait(timeout=15)
