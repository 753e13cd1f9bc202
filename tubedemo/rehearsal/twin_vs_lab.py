"""Twin vs lab, run: one timeline (talk + ``twin.tail``) through the lab (a ``LabSession``
sampled by its feed) and through the twin (``simulate``) with the same load model, measured by
``tubedemo.rehearsal.agreement``. What `tubedemo lab compare` and `nox -s bench -- lab` run."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from tubedemo.core.config import DemoConfig
from tubedemo.rehearsal.agreement import (
    Agreement,
    ScaleSample,
    agree,
    at_hpa_phase,
    hpa_phase,
    twin_at_lab_speed,
    twin_samples,
)
from tubedemo.rehearsal.lab_feed import LabKubeFeed
from tubedemo.rehearsal.lab_session import LabSession, SessionOptions


@dataclass(frozen=True)
class Comparison:
    speed: float
    twin: list[ScaleSample]
    lab: list[ScaleSample]
    agreement: Agreement
    setup_s: float
    """Wall seconds from the lab's start to talk second 0 (lab, fleet, up, first replica)."""
    run_s: float
    """Wall seconds the talk and its tail took on the lab."""
    hpa_phase: float | None = None
    """The lab HPA's sync phase on the talk's clock (s), measured; the twin ran at it."""


def lab_samples(
    feed: LabKubeFeed, horizon: float, every: float, stop: Callable[[], bool] = lambda: False
) -> list[ScaleSample]:
    """Sample the lab every ``every`` talk seconds until talk second ``horizon``."""
    session = feed.session
    samples = [feed.sample()]
    k = 1
    while k * every <= horizon and not stop():
        due = session.talk_started + k * every / feed.speed if session.talk_started else 0.0
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        samples.append(feed.sample())
        k += 1
    return samples


def compare(
    cfg: DemoConfig,
    options: SessionOptions,
    report: Callable[[str], None] = print,
    every: float = 1.0,
) -> Comparison:
    """The timeline (talk + ``twin.tail``) through the twin (``simulate``) and the lab, with
    the same load model in both (the fleet runs the twin's k6 VUs and audience), sampled every
    ``every`` talk seconds."""
    from tubedemo.twin.simulate import simulate

    options = replace(options, k6_model=True, audience=True)
    horizon = cfg.talk.duration + cfg.twin.tail
    began = time.monotonic()
    with LabSession(cfg, options, report) as session:
        feed = LabKubeFeed(session)
        try:
            feed.wait_synced()
            session.start_talk()
            setup = time.monotonic() - began
            report(
                f"talk started on the lab after {setup:.0f}s; running {horizon:.0f}s of talk "
                f"time in {horizon / options.speed:.0f}s"
            )
            lab = lab_samples(feed, horizon, every)
            run = time.monotonic() - began - setup
        finally:
            feed.close()
    # The twin with the intervals the lab ran at (Karpenter's fixed timers included) and the
    # HPA's phase the lab's controller happened to have (it syncs every period from the
    # HPA's creation: one sync earlier or later moves a node across a phase end), so a
    # difference is the models', not an artefact of --speed or of the clock.
    phase = hpa_phase(lab, cfg.twin.hpa.sync_period)
    twin_cfg = at_hpa_phase(twin_at_lab_speed(cfg, options.speed), phase)
    twin = twin_samples(simulate(twin_cfg))
    return Comparison(options.speed, twin, lab, agree(cfg, twin, lab), setup, run, phase)
