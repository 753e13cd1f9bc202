"""vLLM's own start-up log lines -> the waterfall's weights and compile milestones. Pure.

The pod's conditions say when the container started and when it was Ready; what happened in
between (weights, torch.compile, CUDA graphs) only vLLM's log says. The lines, as the pinned
vLLM (0.33.0, tubedemo/core/vllm_release.py) prints them, each at its end of a stage:

- ``Model loading took %s GiB memory and %.6f seconds`` (v1/worker/gpu_model_runner.py): the
  weights are in GPU memory, whatever the loader (the Run:ai streamer's included);
- ``torch.compile took %.2f s in total`` (compilation/monitor.py), after either
  ``Compiling a graph for compile range %s takes %.2f s`` (a cold compile) or
  ``Directly load the compiled graph(s) for compile range %s from the cache, took %.3f s``
  (compilation/backends.py: the compile cache was used);
- ``Graph capturing finished in %.0f secs, took %.2f GiB`` (v1/worker/gpu_model_runner.py);
- ``Application startup complete.`` (uvicorn's lifespan: the API server serves).

With ``--enforce-eager`` neither compile nor graph line comes, and no ``compiled`` milestone.
Each line is read with the kubelet's own timestamp in front (the log read with
``timestamps=true``: RFC 3339, nanoseconds), not vLLM's ``%m-%d %H:%M:%S``, which has no year
and whole seconds only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from tubedemo.telemetry.snapshot import StartupMark, StartupStep

WEIGHTS = re.compile(r"Model loading took (?P<gib>[\d.]+) GiB memory and (?P<s>[\d.]+) seconds")
COMPILED = re.compile(r"torch\.compile took (?P<s>[\d.]+) s in total")
COMPILED_COLD = re.compile(r"Compiling a graph for compile range .* takes [\d.]+ s")
COMPILE_CACHED = re.compile(r"Directly load the compiled graph\(s\) for compile range .* cache")
GRAPHS = re.compile(r"Graph capturing finished in (?P<s>[\d.]+) secs")
SERVING = re.compile(r"Application startup complete\.")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
"""vLLM colours its prefix when it thinks it writes to a terminal."""


@dataclass(frozen=True)
class VllmStartup:
    """When each start-up line came (None: not yet, or never for this configuration) and the
    durations vLLM itself reported (s)."""

    weights_at: datetime | None = None
    weights_seconds: float | None = None
    compiled_at: datetime | None = None
    compile_seconds: float | None = None
    compile_cache_hit: bool | None = None
    """True when vLLM loaded the compiled graphs from its cache, False when it compiled them."""
    graphs_at: datetime | None = None
    graphs_seconds: float | None = None
    serving_at: datetime | None = None

    @property
    def finished(self) -> bool:
        """The API server serves: no start-up line comes after this one."""
        return self.serving_at is not None


def _stamped(line: str) -> tuple[datetime, str] | None:
    stamp, _, rest = line.partition(" ")
    try:
        # Python 3.11 reads RFC 3339 with 'Z' and nanoseconds (it keeps microseconds)
        return datetime.fromisoformat(stamp), rest
    except ValueError:
        return None


def parse(text: str) -> VllmStartup:
    """The start-up lines of a vLLM container's log read with timestamps; a line seen twice
    (a restarted engine) counts at its first time. Lines without a timestamp are skipped."""
    seen = VllmStartup()
    for raw in text.splitlines():
        stamped = _stamped(ANSI.sub("", raw))
        if stamped is None:
            continue
        at, line = stamped
        if (m := WEIGHTS.search(line)) and seen.weights_at is None:
            seen = replace(seen, weights_at=at, weights_seconds=float(m["s"]))
        elif (m := COMPILED.search(line)) and seen.compiled_at is None:
            seen = replace(seen, compiled_at=at, compile_seconds=float(m["s"]))
        elif COMPILED_COLD.search(line) and seen.compile_cache_hit is None:
            seen = replace(seen, compile_cache_hit=False)
        elif COMPILE_CACHED.search(line) and seen.compile_cache_hit is None:
            seen = replace(seen, compile_cache_hit=True)
        elif (m := GRAPHS.search(line)) and seen.graphs_at is None:
            seen = replace(seen, graphs_at=at, graphs_seconds=float(m["s"]))
        elif SERVING.search(line) and seen.serving_at is None:
            seen = replace(seen, serving_at=at)
    return seen


def startup_marks(startup: VllmStartup, created: datetime) -> tuple[StartupMark, ...]:
    """The waterfall's milestones the log gives, in seconds after the pod's creation: weights
    loaded, and compiled once the last of torch.compile and the CUDA graphs is done."""
    marks = []
    if startup.weights_at is not None:
        marks.append(_mark("weights_loaded", startup.weights_at, created))
    done = startup.graphs_at or startup.compiled_at
    if done is not None:
        marks.append(_mark("compiled", done, created))
    return tuple(marks)


def _mark(step: StartupStep, at: datetime, created: datetime) -> StartupMark:
    return StartupMark(step=step, at_s=round((at - created).total_seconds(), 3), source="vllm_log")
