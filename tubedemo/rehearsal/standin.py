"""The vLLM stand-in: one simulated vLLM replica, what one pod of the `local` profile runs.

Where the fleet simulator (``tubedemo.rehearsal.server``) is a whole autoscaled fleet behind one
address, this is a single replica, so that a real Deployment, Service, collector and KEDA can
treat each pod as a vLLM pod: the twin's engine model (``tubedemo.twin.engine.Engine``) on a
real clock behind vLLM's HTTP surface, on the port the template renders, bound to all
interfaces:

- ``POST /v1/chat/completions`` (streaming SSE and not), token timing from the engine model;
- ``GET /v1/models`` (the readiness probe), ``GET /health`` (the liveness probe);
- ``GET /metrics``: vLLM's names and labels (``vllm:num_requests_waiting``,
  ``vllm:num_requests_running``, ``vllm:kv_cache_usage_perc``,
  ``vllm:time_to_first_token_seconds``, ...), what the OTel collector scrapes.

It takes exactly the flags ``templates/vllm.yaml.j2`` renders for the local profile (vLLM's
spelling: ``--served-model-name``, ``--port``, ``--max-num-seqs``), plus ``--host`` and
``--speed`` for tests; an unknown flag exits 2, as vLLM does. Everything else (engine timing,
KV cache size, answer lengths) is the twin's default config, the same numbers ``simulate`` uses.

Run: ``python -m tubedemo.rehearsal.standin --served-model-name=llama-3.1-8b --port=8000``.
It prints ``PORT <n>`` once it listens (``--port 0`` picks a free one).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import socket
import sys
import time
from collections.abc import Callable

import uvicorn
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import Response
from starlette.routing import Route

from tubedemo.core.config import DemoConfig, ModelConfig
from tubedemo.core.durations import check_speed
from tubedemo.core.errors import ConfigError, TubedemoError
from tubedemo.rehearsal import openai_api
from tubedemo.rehearsal.vllm_metrics import EngineFigures, VllmMetrics
from tubedemo.twin.engine import Engine, EngineParams, Request

_ANSWER = (
    "Mind the gap! This is a simulated vLLM replica, so every answer is the same Tube trivia: "
    "the Underground opened in 1863, the Central line is the longest, and you stand on the right."
)


_WORDS = _ANSWER.split(" ")


def _word(index: int) -> str:
    return _WORDS[index % len(_WORDS)] + " "


class Replica:
    """One engine on a clock: ``advance()`` runs the engine's steps up to now.

    The clock is injected (tests pass a fake one); ``speed`` multiplies it like the fleet's.
    """

    def __init__(
        self,
        config: DemoConfig,
        clock: Callable[[], float],
        speed: float = 1.0,
        name: str = "standin",
    ) -> None:
        check_speed(speed)
        self.config = config
        self.clock = clock
        self.speed = speed
        self.started = clock()
        self.engine = Engine(name, EngineParams.from_config(config))
        self.model_name = config.model.served_name
        self._rng = random.Random(config.twin.seed)
        self._ids = itertools.count(1)
        self._first_seen: set[int] = set()
        self.metrics = VllmMetrics(self.model_name, lambda: {"0": EngineFigures.of(self.engine)})
        """vLLM's /metrics of this replica (``tubedemo.rehearsal.vllm_metrics``)."""

    @property
    def now(self) -> float:
        return (self.clock() - self.started) * self.speed

    def advance(self) -> None:
        """Complete every engine step that ended by now, recording first tokens and ends."""
        now = self.now
        while (due := self.engine.next_event()) is not None and due <= now:
            for request in self.engine.complete(due):
                if request.id not in self._first_seen and request.ttft is not None:
                    self._first_seen.add(request.id)
                    self.metrics.first_token(request.ttft)
                if request.status == "done":
                    self._first_seen.discard(request.id)
                    if request.e2e is not None:
                        self.metrics.finished(request.e2e, request.finish_reason)

    def submit(self, prompt_tokens: int, max_tokens: int | None) -> Request:
        """A request with the twin's answer length (mean +/- spread), clipped to the caps."""
        self.advance()
        engine = self.config.twin.engine
        spread = engine.length_spread
        limit = self.config.model.max_model_len
        prompt = min(prompt_tokens, limit - 1)
        output = round(engine.output_tokens * self._rng.uniform(1 - spread, 1 + spread))
        if max_tokens is not None:
            output = min(output, max_tokens)
        request = Request(
            id=next(self._ids),
            prompt_tokens=prompt,
            output_tokens=max(1, min(output, limit - prompt)),
            sent_at=self.now,
            source="http",
            max_tokens=max_tokens,
        )
        self.engine.submit(request, self.now)
        return request

    def tokens_so_far(self, request: Request) -> int:
        if request.status != "running":
            return request.generated
        return self.engine.tokens_at(request, self.now)

    def abort(self, request: Request) -> None:
        """The client went away: free its slot and KV blocks, as vLLM does."""
        self.advance()
        self._first_seen.discard(request.id)
        self.engine.abort(request, self.now, "client disconnected", "aborted")


class StandinApp:
    """vLLM's HTTP surface around one Replica."""

    def __init__(self, replica: Replica) -> None:
        self.replica = replica
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/health", self.health, methods=["GET"]),
                Route("/metrics", self.metrics, methods=["GET"]),
            ]
        )

    async def health(self, _: HttpRequest) -> Response:
        return Response(status_code=200)

    async def models(self, _: HttpRequest) -> Response:
        model = self.replica.config.model
        return openai_api.models_response(self.replica.model_name, model.name, model.max_model_len)

    async def metrics(self, _: HttpRequest) -> Response:
        self.replica.advance()
        return Response(self.replica.metrics.text(), media_type=openai_api.METRICS_TYPE)

    async def chat(self, http: HttpRequest) -> Response:
        ask = await openai_api.parse_chat(http, self.replica.model_name)
        if isinstance(ask, Response):
            return ask
        request = self.replica.submit(ask.prompt_tokens, ask.max_tokens)
        return await openai_api.respond(
            http, self.replica, request, ask, self.replica.model_name, _word
        )


_FLAGS = {"served_name": "--served-model-name", "port": "--port", "max_num_seqs": "--max-num-seqs"}
"""ModelConfig field -> the flag that sets it, for error messages."""


def build_config(served_model_name: str, port: int, max_num_seqs: int) -> DemoConfig:
    """The twin's default config with the model fields the pod's flags set."""
    try:
        return DemoConfig.model_validate(
            {
                "profile": "local",
                "model": {
                    "served_name": served_model_name,
                    "port": port if port > 0 else 8000,
                    "max_num_seqs": max_num_seqs,
                },
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        flag = _FLAGS.get(str(first["loc"][-1]), str(first["loc"][-1]))
        raise ConfigError(f"{flag}: {first['msg']}") from exc


async def serve(
    replica: Replica,
    host: str,
    port: int,
    on_listening: Callable[[int], None] | None = None,
) -> None:
    """Listen and serve until cancelled or signalled; ``on_listening(port)`` (default: print)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # Listening before PORT is announced, as the fleet's server does: uvicorn listens only once
    # it serves, so a client that connected right after reading PORT was refused under load.
    sock.listen(2048)
    bound = int(sock.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(
            StandinApp(replica).app, log_level="warning", access_log=False, lifespan="off"
        )
    )
    if on_listening is None:
        print(f"PORT {bound}", flush=True)
    else:
        on_listening(bound)
    await server.serve(sockets=[sock])


def parser() -> argparse.ArgumentParser:
    """The stand-in's flags: vLLM's names for what the template renders, nothing else."""
    p = argparse.ArgumentParser(
        prog="python -m tubedemo.rehearsal.standin",
        description="One simulated vLLM replica (the local profile's stand-in for vLLM).",
    )
    defaults = ModelConfig()
    p.add_argument("--served-model-name", default=defaults.served_name, help="model id of the API")
    p.add_argument("--port", type=int, default=defaults.port, help="listen port (0: a free one)")
    p.add_argument("--max-num-seqs", type=int, default=defaults.max_num_seqs, help="batch slots")
    p.add_argument("--host", default="0.0.0.0", help="bind address (all interfaces)")
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        check_speed(args.speed)
        config = build_config(args.served_model_name, args.port, args.max_num_seqs)
        replica = Replica(config, time.monotonic, speed=args.speed)
        asyncio.run(serve(replica, args.host, args.port))
    except TubedemoError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
