"""The audience page and presenter screen (web/): build, unit tests and end-to-end tests.

The end-to-end run drives real headless Chromium (Debian's chromium) against the real gateway
(`python -m gateway` with this interpreter) and a fake vLLM on loopback; see web/e2e/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import prepared

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "web"
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.integration


def _npm(*args: str, timeout: float, **extra_env: str) -> subprocess.CompletedProcess[str]:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not installed: install Node 20 and npm (see README, Web page)")
    env = {**os.environ, "TUBEDEMO_PYTHON": sys.executable, "NO_COLOR": "1", **extra_env}
    return subprocess.run(
        [npm, *args],
        cwd=WEB,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, (
        f"{result.args} failed:\n{result.stdout[-6000:]}\n{result.stderr[-4000:]}"
    )


@pytest.fixture(scope="module")
def built_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page built by `npm run build` into a folder of this test's own: web/dist (made by
    scripts/prepare-tests) is what the image tests copy into the gateway image on another
    worker meanwhile, and vite empties its output folder before it writes."""
    if not (WEB / "node_modules").is_dir():
        _ok(_npm("ci", timeout=300))
    dist = tmp_path_factory.mktemp("web") / "dist"
    _ok(_npm("run", "build", "--", f"--outDir={dist}", "--emptyOutDir", timeout=300))
    return dist


def test_build_writes_the_page_and_a_separate_presenter_chunk(built_page: Path) -> None:
    assert (built_page / "index.html").is_file()
    scripts = sorted(p.name for p in (built_page / "assets").glob("*.js"))
    assert any(name.startswith("Screen-") for name in scripts), scripts
    html = (built_page / "index.html").read_text()
    assert "http://" not in html and "https://" not in html, "the page loads nothing from outside"


def test_unit_tests_of_the_pure_parts_pass(built_page: Path) -> None:
    _ok(_npm("test", timeout=300))


@pytest.mark.timeout(600)
def test_audience_and_presenter_end_to_end_in_headless_chromium(built_page: Path) -> None:
    if not CHROMIUM.exists():
        prepared.unavailable("chromium missing", "chromium")
    result = _npm("run", "e2e", timeout=540, TUBEDEMO_E2E_DIST=str(built_page))
    sys.stdout.write(result.stdout[-4000:])
    _ok(result)
