"""The fleet simulator's HTTP face: vLLM's OpenAI API, per-replica /metrics, the twin's state.

One asyncio server (uvicorn) on loopback:

- ``POST /v1/chat/completions`` (streaming SSE and not) with token timing from the engine model,
  in real time or x speed; requests go round-robin to the twin's ready replicas;
- ``GET /v1/models``, ``GET /health``;
- ``GET /pods/<name>/metrics``: what that vLLM pod would expose (vllm:* names, labels
  model_name and engine);
- ``GET /twin/state``: replicas, nodes, HPA, scrape targets, events, cost as JSON for the
  dashboard;
- ``POST /twin/start``: talk second 0 is now (the lab starts its talk once ``up`` is done);
- ``GET /metrics``: the queue summed over the serving replicas as one series named
  ``scaling.metric`` (what KEDA's ``metrics-api`` scaler reads in the lab);
- ``GET /forecast``: the timeline's forecast on the talk's clock (scaling.proactive: timeline),
  what the gateway's /forecast serves on EKS; the lab's forecast trigger reads it.

With ``--kubeconfig`` (the lab) the replicas are the Running pods of the vLLM Deployment in
``--namespace``, followed through a watch of the real API server: a pod that becomes Ready gets
an engine, a pod that loses readiness keeps it but takes no new requests (as the Service drops
it), a deleted pod's engine drains. Without it the twin's own autoscaler decides, as in
``tubedemo rehearse``.

Run it as ``python -m tubedemo.rehearsal.server --port 0 --speed 10``: it prints ``PORT <n>``
once it listens. Bad requests get vLLM's 400/404 error bodies; no replica ready is a 503.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tubedemo.core.config import DemoConfig, load_config
from tubedemo.core.durations import check_speed
from tubedemo.core.errors import TubedemoError, debug_enabled, error_lines
from tubedemo.rehearsal import openai_api
from tubedemo.rehearsal.fleet import Fleet
from tubedemo.rehearsal.openai_api import error as _error

PodSource = Callable[[], "tuple[dict[str, bool], int | None] | None"]
"""Returns (Running pod -> Ready, the Deployment's spec.replicas) now, or None until synced."""

_WORDS = [
    "Mind",
    "the",
    "gap,",
    "guv!",
    "The",
    "Tube",
    "opened",
    "in",
    "1863",
    "and",
    "the",
    "Metropolitan",
    "line",
    "still",
    "runs",
    "like",
    "a",
    "proper",
    "old",
    "girl.",
    "Change",
    "at",
    "Baker",
    "Street,",
    "keep",
    "left",
    "on",
    "the",
    "escalator,",
    "and",
    "never,",
    "ever",
    "stand",
    "still",
    "at",
    "the",
    "top.",
    "Cheers!",
]


def _word(index: int) -> str:
    return _WORDS[index % len(_WORDS)] + " "


class FleetApp:
    """The Starlette app around one Fleet; every handler first advances the world."""

    def __init__(self, fleet: Fleet, pods: PodSource | None = None) -> None:
        self.fleet = fleet
        self.pods = pods
        self.base_url = ""
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self.chat, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/health", self.health, methods=["GET"]),
                Route("/pods/{name}/metrics", self.metrics, methods=["GET"]),
                Route("/twin/state", self.state, methods=["GET"]),
                Route("/metrics", self.queue_metrics, methods=["GET"]),
                Route("/forecast", self.forecast, methods=["GET"]),
                Route("/twin/start", self.start_talk, methods=["POST"]),
            ]
        )
        self._ticker: asyncio.Task[None] | None = None

    async def tick_forever(self) -> None:
        """Keep the world moving when nobody asks (replicas start, HPA syncs, nodes go)."""
        while True:
            self.sync_pods()
            self.fleet.advance()
            wait = self.fleet.wall_until_next_event()
            await asyncio.sleep(min(wait if wait is not None else 0.05, 0.05))

    def sync_pods(self) -> None:
        """Engines for the cluster's Running pods (lab only); a no-op until the watch has synced."""
        if self.pods is None:
            return
        reading = self.pods()
        if reading is not None:
            running, desired = reading
            self.fleet.sync_pods(running, desired)

    async def queue_metrics(self, _: HttpRequest) -> Response:
        self.fleet.advance()
        return Response(self.fleet.queue_metrics_text(), media_type=openai_api.METRICS_TYPE)

    async def forecast(self, _: HttpRequest) -> Response:
        self.fleet.advance()
        return Response(self.fleet.forecast_text(), media_type=openai_api.METRICS_TYPE)

    async def start_talk(self, _: HttpRequest) -> Response:
        if self.fleet.world.sent:
            return _error(409, "the talk has started already: requests were served")
        self.fleet.start_talk()
        self.sync_pods()
        return JSONResponse({"time_s": self.fleet.now})

    async def health(self, _: HttpRequest) -> Response:
        return Response(status_code=200)

    async def models(self, _: HttpRequest) -> Response:
        self.fleet.advance()
        if not any(p.serving for p in self.fleet.world.pods):
            return _error(503, "no replica is ready", "ServiceUnavailableError")
        model = self.fleet.config.model
        return openai_api.models_response(self.fleet.model_name, model.name, model.max_model_len)

    async def metrics(self, request: HttpRequest) -> Response:
        self.fleet.advance()
        found = self.fleet.replica_metrics(request.path_params["name"])
        if found is None:
            return _error(404, f"no replica {request.path_params['name']!r}", "NotFoundError")
        return Response(found.text(), media_type=openai_api.METRICS_TYPE)

    async def state(self, _: HttpRequest) -> Response:
        self.fleet.advance()
        return JSONResponse(self.fleet.state(lambda name: f"{self.base_url}/pods/{name}/metrics"))

    async def chat(self, http: HttpRequest) -> Response:
        ask = await openai_api.parse_chat(http, self.fleet.model_name)
        if isinstance(ask, Response):
            return ask
        self.fleet.advance()
        request = self.fleet.submit(ask.prompt_tokens, ask.max_tokens)
        if request.status == "failed":
            return _error(503, "no replica is ready", "ServiceUnavailableError")
        return await openai_api.respond(
            http, self.fleet, request, ask, self.fleet.model_name, _word
        )


async def serve(
    config: DemoConfig,
    host: str = "127.0.0.1",
    port: int = 0,
    speed: float = 1.0,
    audience: bool = False,
    on_listening: Callable[[int], None] | None = None,
    pods: PodSource | None = None,
    k6_model: bool = False,
) -> None:
    """Run until cancelled or signalled; ``on_listening(port)`` (default: print ``PORT <n>``).

    ``pods``: the lab's Running pods (``tubedemo.cluster.ready_pods.ReadyPodWatch.read``); the
    fleet then runs one engine per pod that became Ready instead of the twin's autoscaler.
    """
    fleet = Fleet(
        config,
        time.monotonic,
        speed=speed,
        audience=audience,
        pods_from_cluster=pods is not None,
        k6_model=k6_model,
    )
    front = FleetApp(fleet, pods)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # Listening before PORT is announced: uvicorn listens only once it serves, so a client
    # that connected right after reading PORT was refused (seen under load).
    sock.listen(2048)
    bound = sock.getsockname()[1]
    front.base_url = f"http://{host}:{bound}"
    server = uvicorn.Server(
        uvicorn.Config(front.app, log_level="warning", access_log=False, lifespan="off")
    )
    ticker = asyncio.create_task(front.tick_forever())
    if on_listening is None:
        print(f"PORT {bound}", flush=True)
    else:
        on_listening(bound)
    try:
        await server.serve(sockets=[sock])
    finally:
        ticker.cancel()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tubedemo.rehearsal.server", description=__doc__
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--audience", action="store_true", help="simulate the room's phones")
    parser.add_argument(
        "--k6-model",
        action="store_true",
        help="also send the timeline's k6 load as the twin models it (no k6 process)",
    )
    parser.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        help="the lab: serve one engine per Ready pod of the vLLM Deployment in this cluster",
    )
    parser.add_argument("--context", default=None, help="kubeconfig context (with --kubeconfig)")
    parser.add_argument(
        "--namespace", default=None, help="namespace of the vLLM Deployment (default: config's)"
    )
    args = parser.parse_args(argv)
    watch = None
    try:
        check_speed(args.speed)
        config = load_config(args.config, args.overrides)
        if args.kubeconfig is not None:
            from tubedemo.cluster.ready_pods import ReadyPodWatch

            watch = ReadyPodWatch.connect(
                args.kubeconfig,
                args.context,
                namespace=args.namespace or config.cluster.namespace,
            )
        asyncio.run(
            serve(
                config,
                args.host,
                args.port,
                args.speed,
                args.audience,
                pods=watch.read if watch is not None else None,
                k6_model=args.k6_model,
            )
        )
    except TubedemoError as exc:
        print("\n".join(error_lines(exc, debug=debug_enabled())), file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        pass
    finally:
        if watch is not None:
            watch.close()


if __name__ == "__main__":
    main()
