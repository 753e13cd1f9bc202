"""One vLLM replica: continuous batching at engine-step level, without a wall clock.

The model follows vLLM v1's scheduler: every step first serves the running requests in order
(one decode token each, or the next chunk of a prefill), then admits waiting requests FCFS while
there are free sequence slots, token budget and KV blocks. When a running request needs a KV block
and none is free, the most recently admitted request is preempted (recompute: its blocks are
freed and it goes back to the front of the queue). A step costs

    decode_step_base + decode_step_per_seq x decoding sequences + prefill tokens / prefill rate

(memory-bound decode: the weights are read once per step, each sequence adds a little).

Identical pure-decode steps are folded into one *macro step* so a 30-minute talk costs a few
thousand events instead of a million; a request arriving mid-macro-step cuts it at the next step
boundary, so the timing is the same as stepping one by one.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from tubedemo.core.config import DemoConfig
from tubedemo.core.errors import TwinError

RequestStatus = Literal["new", "waiting", "running", "done", "aborted", "failed"]


@dataclass(eq=False)
class Request:
    """One chat completion as the engine sees it; times are seconds on the twin's clock."""

    id: int
    prompt_tokens: int
    output_tokens: int
    sent_at: float
    source: str = "load"
    phase: str | None = None
    arrived_at: float | None = None
    first_token_at: float | None = None
    finished_at: float | None = None
    status: RequestStatus = "new"
    generated: int = 0
    computed: int = 0
    """Tokens whose KV entries are in the cache (prefill progress, then one per decode step)."""
    blocks: int = 0
    preemptions: int = 0
    replica: str | None = None
    reason: str | None = None
    """Why it was aborted or failed."""
    max_tokens: int | None = None
    """The client's cap; reaching it ends the answer with finish_reason "length"."""

    @property
    def finish_reason(self) -> str:
        """OpenAI finish_reason: length when the cap cut the answer, else stop."""
        if self.max_tokens is not None and self.generated >= self.max_tokens:
            return "length"
        return "stop"

    @property
    def context_target(self) -> int:
        """Tokens a forward pass must have processed before the next token is sampled.

        Fresh: the prompt. Decoding: everything but the last sampled token is cached, so one
        more. After a recompute preemption: the prompt and every generated token again.
        """
        return self.prompt_tokens + self.generated

    @property
    def ttft(self) -> float | None:
        if self.first_token_at is None or self.arrived_at is None:
            return None
        return self.first_token_at - self.arrived_at

    @property
    def e2e(self) -> float | None:
        if self.finished_at is None or self.arrived_at is None:
            return None
        return self.finished_at - self.arrived_at


@dataclass(frozen=True)
class EngineParams:
    """Everything the engine model needs, resolved from DemoConfig once."""

    max_num_seqs: int
    max_num_batched_tokens: int
    kv_blocks: int
    block_tokens: int
    decode_step_base: float
    decode_step_per_seq: float
    prefill_tokens_per_s: float

    @classmethod
    def from_config(cls, config: DemoConfig) -> EngineParams:
        engine = config.twin.engine
        tokens = engine.kv_capacity_tokens(config.model.gpu_memory_utilization)
        if tokens < config.model.max_model_len:
            raise TwinError(
                f"KV cache holds {tokens} tokens, less than model.max_model_len "
                f"({config.model.max_model_len}); vLLM would refuse to start: lower max_model_len "
                "or raise model.gpu_memory_utilization"
            )
        return cls(
            max_num_seqs=config.model.max_num_seqs,
            max_num_batched_tokens=engine.max_num_batched_tokens,
            kv_blocks=tokens // engine.kv_block_tokens,
            block_tokens=engine.kv_block_tokens,
            decode_step_base=engine.decode_step_base,
            decode_step_per_seq=engine.decode_step_per_seq,
            prefill_tokens_per_s=engine.prefill_tokens_per_s,
        )


@dataclass(frozen=True)
class Gauges:
    """vLLM's scheduler gauges at one instant."""

    waiting: int
    running: int
    kv_usage: float
    """vllm:kv_cache_usage_perc, 0-1."""


@dataclass
class _Step:
    start: float
    duration: float
    count: int
    decoding: list[Request]
    prefill: list[tuple[Request, int]] = field(default_factory=list)

    @property
    def end(self) -> float:
        return self.start + self.duration * self.count


class Engine:
    """One replica's scheduler and KV cache. Drive it with submit/abort/complete; no clock."""

    def __init__(self, name: str, params: EngineParams, *, fold: bool = True) -> None:
        self.name = name
        self.params = params
        self.fold = fold
        """Fold identical decode steps into macro steps; off only to check the folding."""
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []
        self.used_blocks = 0
        self._step: _Step | None = None
        self.steps_done = 0
        self.prompt_tokens_total = 0
        self.generation_tokens_total = 0

    # -- inputs -------------------------------------------------------------------------------

    def submit(self, request: Request, now: float) -> None:
        """A request reaches the engine; it is scheduled at the next step boundary."""
        request.arrived_at = now
        request.status = "waiting"
        request.replica = self.name
        self.waiting.append(request)
        if self._step is None:
            self._plan(now)
        else:
            self._cut(now)

    def abort(self, request: Request, now: float, reason: str, status: RequestStatus) -> None:
        """The client went away (or the replica stops): drop the request, free its KV blocks."""
        if request.status == "waiting":
            self.waiting.remove(request)
        elif request.status == "running":
            self.running.remove(request)
            self._free(request)
            self._cut(now)
        else:
            return
        request.status = status
        request.reason = reason
        request.finished_at = now

    def stop(self, now: float, reason: str) -> list[Request]:
        """Shut down: every request still held fails. Returns them."""
        dropped = [*self.running, *self.waiting]
        for request in dropped:
            self.abort(request, now, reason, "failed")
        self._step = None
        return dropped

    # -- time ---------------------------------------------------------------------------------

    def next_event(self) -> float | None:
        """When the current (macro) step ends; None when idle."""
        return None if self._step is None else self._step.end

    def complete(self, now: float) -> list[Request]:
        """Finish the step ending at ``now``; returns requests that got their first token or
        finished in it (check ``status``/``first_token_at``). Plans the next step."""
        step = self._step
        if step is None:
            return []
        touched: list[Request] = []
        for request, chunk in step.prefill:
            if request.status != "running":
                continue
            request.computed += chunk
            if request.computed >= request.context_target:
                if request.first_token_at is None:
                    self.prompt_tokens_total += request.prompt_tokens
                self._sample(request, 1, now)
                touched.append(request)
        for request in step.decoding:
            if request.status != "running":
                continue
            request.computed += step.count
            self._sample(request, step.count, now)
            touched.append(request)
        self.steps_done += step.count
        for request in touched:
            self._grow_blocks(request)
            if request.generated >= request.output_tokens:
                request.status = "done"
                request.finished_at = now
                self.running.remove(request)
                self._free(request)
        self._step = None
        self._plan(now)
        return touched

    def _sample(self, request: Request, tokens: int, now: float) -> None:
        request.generated += tokens
        self.generation_tokens_total += tokens
        if request.first_token_at is None:
            request.first_token_at = now

    # -- observation --------------------------------------------------------------------------

    def gauges(self) -> Gauges:
        return Gauges(
            waiting=len(self.waiting),
            running=len(self.running),
            kv_usage=self.used_blocks / self.params.kv_blocks,
        )

    def tokens_at(self, request: Request, now: float) -> int:
        """Tokens the request has generated by ``now`` (within a macro step, step by step)."""
        step = self._step
        if step is None or step.count <= 1 or request not in step.decoding:
            return request.generated
        done = math.floor((now - step.start) / step.duration + 1e-9)
        return request.generated + max(0, min(step.count, done))

    @property
    def idle(self) -> bool:
        return self._step is None and not self.waiting and not self.running

    # -- scheduling ---------------------------------------------------------------------------

    def _blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.params.block_tokens)

    def _free(self, request: Request) -> None:
        self.used_blocks -= request.blocks
        request.blocks = 0

    def _grow_blocks(self, request: Request) -> None:
        need = self._blocks_for(request.computed)
        if need > request.blocks:
            self.used_blocks += need - request.blocks
            request.blocks = need

    def _reserve(self, request: Request, tokens: int) -> bool:
        extra = self._blocks_for(request.computed + tokens) - request.blocks
        if extra <= 0:
            return True
        if self.used_blocks + extra > self.params.kv_blocks:
            return False
        self.used_blocks += extra
        request.blocks += extra
        return True

    def _preempt_last(self) -> Request:
        victim = self.running.pop()
        self._free(victim)
        victim.computed = 0
        victim.status = "waiting"
        victim.preemptions += 1
        self.waiting.appendleft(victim)
        return victim

    def _plan(self, now: float) -> None:
        p = self.params
        budget = p.max_num_batched_tokens
        decoding: list[Request] = []
        prefill: list[tuple[Request, int]] = []
        preempted = False
        index = 0
        while index < len(self.running) and budget > 0:
            request = self.running[index]
            need = request.context_target - request.computed
            tokens = min(need, budget)
            while not self._reserve(request, tokens):
                victim = self._preempt_last()
                preempted = True
                if victim is request:
                    break
            if request.status != "running":
                break
            if request.generated > 0 and need == 1:
                decoding.append(request)
            else:
                prefill.append((request, tokens))
            budget -= tokens
            index += 1
        # vLLM admits nobody in a step that preempted, unless the step would otherwise be empty.
        if not preempted or (not decoding and not prefill):
            while self.waiting and len(self.running) < p.max_num_seqs and budget > 0:
                request = self.waiting[0]
                tokens = min(request.context_target - request.computed, budget)
                if not self._reserve(request, tokens):
                    break
                self.waiting.popleft()
                request.status = "running"
                self.running.append(request)
                prefill.append((request, tokens))
                budget -= tokens
        if not decoding and not prefill:
            self._step = None
            return
        prefill_tokens = sum(tokens for _, tokens in prefill)
        duration = (
            p.decode_step_base
            + p.decode_step_per_seq * len(decoding)
            + prefill_tokens / p.prefill_tokens_per_s
        )
        count = 1
        if self.fold and not prefill and not preempted:
            # Nothing changes until a sequence finishes or KV blocks run short: fold the steps.
            remaining = min(r.output_tokens - r.generated for r in decoding)
            # Blocks already reserved for step 1; bound the rest so no step would need more.
            slack = min(r.blocks * p.block_tokens - r.computed for r in decoding)
            free = p.kv_blocks - self.used_blocks
            kv_steps = max(1, slack + p.block_tokens * (free // len(decoding)))
            count = max(1, min(remaining, kv_steps))
        self._step = _Step(now, duration, count, decoding, prefill)

    def _cut(self, now: float) -> None:
        """Something changed: end the current macro step at the next step boundary."""
        step = self._step
        if step is None or step.count <= 1:
            return
        done = math.floor((now - step.start) / step.duration + 1e-9)
        step.count = max(1, min(step.count, done + 1))


_METRIC_SOURCES = {
    "num_requests_waiting": "waiting",
    "num_requests_running": "running",
    "kv_cache_usage_perc": "kv_usage",
}


def metric_sources(triggers: Mapping[str, str]) -> dict[str, str]:
    """Each scaling trigger's engine gauge (waiting, running, kv_usage), from the vLLM metric it
    reads; a metric the twin does not model is a TwinError."""
    sources: dict[str, str] = {}
    for trigger, metric in triggers.items():
        base = metric.replace("vllm:", "").replace("vllm_", "")
        if base not in _METRIC_SOURCES:
            raise TwinError(
                f"scaling trigger {trigger!r} reads {metric!r}: the twin models "
                "vllm_num_requests_waiting, vllm_num_requests_running and "
                "vllm_kv_cache_usage_perc"
            )
        sources[trigger] = _METRIC_SOURCES[base]
    return sources
