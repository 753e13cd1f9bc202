"""vLLM's start-up log -> the waterfall's weights and compile milestones.

The lines are vLLM 0.33.0's own: each format string below is quoted from the file named next to
it, printed through vLLM's log format (vllm/logger.py ``_FORMAT``) behind the kubelet's
timestamp, and the last test checks every quoted string is in that file of the pinned release.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.manifests.vllm.test_vllm_args import _vllm_python
from tubedemo.telemetry.vllm_log import parse, startup_marks

# (file in the pinned release's site-packages, logger's format string as written there)
RUNNER = "vllm/v1/worker/gpu_model_runner.py"
WEIGHTS = (RUNNER, "Model loading took %s GiB memory and %.6f seconds")
COLD = ("vllm/compilation/backends.py", "%sCompiling a graph for compile range %s takes %.2f s")
CACHED = (
    "vllm/compilation/backends.py",
    '"%sDirectly load the compiled graph(s) for compile "\n'
    '                    "range %s from the cache, took %.3f s"',
)
COMPILED = ("vllm/compilation/monitor.py", "%storch.compile took %.2f s in total")
GRAPHS = (RUNNER, "Graph capturing finished in %.0f secs, took %.2f GiB")
SERVING = ("uvicorn/lifespan/on.py", "Application startup complete.")
QUOTED = (WEIGHTS, COLD, CACHED, COMPILED, GRAPHS, SERVING)

CREATED = datetime(2026, 12, 7, 15, 0, 0, tzinfo=UTC)


def _source_text(quoted: tuple[str, str]) -> str:
    """The message as the logger formats it (a split string literal joined again)."""
    text = quoted[1]
    if text.startswith('"'):
        text = "".join(part.strip().strip('"') for part in text.split("\n"))
    return text


def _line(at_s: float, quoted: tuple[str, str], *args: object, process: str = "EngineCore") -> str:
    """One line as `kubectl logs --timestamps` shows it: the kubelet's RFC 3339 nanosecond
    stamp, then vLLM's prefix (process, pid, level, its own date, file:line) and the message."""
    at = CREATED + timedelta(seconds=at_s)
    message = _source_text(quoted) % args if args else _source_text(quoted)
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"
    vllm_date = at.strftime("%m-%d %H:%M:%S")
    where = Path(quoted[0]).name
    return f"{stamp} ({process} pid=57) INFO {vllm_date} [{where}:1] {message}"


def _cold_start() -> str:
    return "\n".join(
        [
            "2026-12-07T15:00:21.000000000Z INFO 12-07 15:00:21 [utils.py:1] non-default args",
            _line(38.25, WEIGHTS, "14.99", 9.871234),
            _line(46.0, COLD, "", "(1, 8192)", 31.5),
            _line(79.5, COMPILED, "", 41.62),
            _line(86.0, GRAPHS, 4.0, 0.55),
            "no timestamp: a line the parser must skip",
            _line(92.0, SERVING, process="APIServer"),
        ]
    )


def test_a_cold_start_gives_weights_then_compile_and_graphs_at_the_kubelet_stamps() -> None:
    seen = parse(_cold_start())
    assert (seen.weights_seconds, seen.compile_seconds, seen.graphs_seconds) == (
        9.871234,
        41.62,
        4.0,
    )
    assert seen.compile_cache_hit is False
    assert seen.serving_at == CREATED + timedelta(seconds=92)
    assert seen.finished
    marks = startup_marks(seen, CREATED)
    assert [(m.step, m.at_s, m.source) for m in marks] == [
        ("weights_loaded", 38.25, "vllm_log"),
        ("compiled", 86.0, "vllm_log"),  # the graphs end the compile segment, not torch.compile
    ]


def test_a_compile_cache_hit_is_told_apart_from_a_cold_compile() -> None:
    text = "\n".join(
        [
            _line(30.0, WEIGHTS, "14.99", 9.0),
            _line(33.0, CACHED, "", "(1, 8192)", 2.514),
            _line(38.0, COMPILED, "", 7.9),
            _line(42.0, GRAPHS, 3.0, 0.5),
        ]
    )
    seen = parse(text)
    assert (seen.compile_cache_hit, seen.compile_seconds) == (True, 7.9)
    assert not seen.finished  # no API server yet: the caller reads the log again


def test_an_eager_engine_has_weights_but_no_compile_milestone() -> None:
    seen = parse("\n".join([_line(30.0, WEIGHTS, "14.99", 9.0), _line(40.0, SERVING)]))
    assert [m.step for m in startup_marks(seen, CREATED)] == ["weights_loaded"]
    assert seen.compile_cache_hit is None


def test_a_coloured_prefix_and_a_repeated_line_count_once_at_their_first_time() -> None:
    first = _line(30.0, WEIGHTS, "14.99", 9.0).replace(" INFO ", " \x1b[32mINFO\x1b[0m ")
    seen = parse("\n".join([first, _line(300.0, WEIGHTS, "14.99", 8.0)]))
    assert [m.at_s for m in startup_marks(seen, CREATED)] == [30.0]


def test_an_empty_or_foreign_log_gives_no_milestones() -> None:
    assert startup_marks(parse(""), CREATED) == ()
    assert startup_marks(parse("unable to retrieve container logs\n"), CREATED) == ()


@pytest.mark.integration
@pytest.mark.parametrize("quoted", QUOTED, ids=lambda q: q[1][:30])
def test_every_quoted_line_is_in_the_pinned_vllm_release(quoted: tuple[str, str]) -> None:
    python = _vllm_python()
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    source = Path(out.stdout.strip()) / quoted[0]
    assert quoted[1] in source.read_text(encoding="utf-8"), f"{quoted[1]!r} not in {source}"
