"""vLLM's start-up lines of each starting pod, read from its log through the API server (which
asks the pod's kubelet), for the waterfall's weights and compile milestones.

One background thread, so a slow kubelet never delays the dashboard's tick: every ``every``
seconds it reads the log of the pods ``due`` names (pure) and keeps what
``tubedemo.telemetry.vllm_log.parse`` found, by pod uid. A pod is read while it starts and
once more after it is Ready, then never again: its start-up lines are all written by then.
Pods on KWOK nodes (the lab) have no kubelet and no log: the lab turns this off.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client as k8s_client

from tubedemo.cluster.errors import status_message
from tubedemo.telemetry.vllm_log import VllmStartup, parse

Obj = Mapping[str, Any]

LIMIT_BYTES = 4 * 1024 * 1024
"""Most of a log read at once (from its start, where the start-up lines are): vLLM's own log up
to serving is tens of KiB; a request log behind it must not be fetched every few seconds."""


@dataclass
class PodLog:
    """What one pod's log said so far, and when it was last read."""

    startup: VllmStartup = field(default_factory=VllmStartup)
    read_at: float | None = None
    """Monotonic seconds of the last read (None: never read)."""
    read_after_ready: bool = False
    error: str | None = None


def _uid(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid") or "")


def _started(pod: Obj, container: str) -> bool:
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        if (status or {}).get("name") == container:
            state = status.get("state") or {}
            return bool(state.get("running") or state.get("terminated"))
    return False


def _ready(pod: Obj) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def due(
    pods: Sequence[Obj],
    logs: Mapping[str, PodLog],
    now: float,
    container: str,
    every: float,
    per_round: int,
) -> list[Obj]:
    """The pods whose log to read now: the container has started, the start-up lines are not
    all there yet and the pod was not read after it turned Ready, and its last read is at
    least ``every`` s old; the least recently read first, at most ``per_round``. Pure."""
    out = []
    for pod in pods:
        log = logs.get(_uid(pod), PodLog())
        if not _uid(pod) or not _started(pod, container):
            continue
        if log.startup.finished or log.read_after_ready:
            continue
        if log.read_at is not None and now - log.read_at < every:
            continue
        out.append((log.read_at if log.read_at is not None else -1.0, pod))
    out.sort(key=lambda pair: pair[0])
    return [pod for _, pod in out[:per_round]]


class StartupLogs:
    """The background reader; ``startups()`` is what each pod's log said so far."""

    def __init__(
        self,
        api: k8s_client.ApiClient,
        pods: Callable[[], Sequence[Obj]],
        *,
        namespace: str,
        container: str = "vllm",
        every: float = 5.0,
        per_round: int = 4,
        timeout: float = 5.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.api = api
        self.pods = pods
        self.namespace = namespace
        self.container = container
        self.every = every
        self.per_round = per_round
        self.timeout = timeout
        self.clock = clock or time.monotonic
        self._logs: dict[str, PodLog] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vllm-startup-logs", daemon=True)

    def start(self) -> StartupLogs:
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def startups(self) -> dict[str, VllmStartup]:
        """Pod uid -> what its log said so far (pods never read are missing)."""
        with self._lock:
            return {uid: log.startup for uid, log in self._logs.items() if log.read_at is not None}

    def errors(self) -> dict[str, str]:
        """Pod uid -> the last failed read of its log (a kubelet that did not answer)."""
        with self._lock:
            return {uid: log.error for uid, log in self._logs.items() if log.error is not None}

    def read_round(self) -> None:
        """Read every log that is due now (the thread's one step)."""
        pods = list(self.pods())
        with self._lock:
            live = {_uid(p) for p in pods}
            for gone in set(self._logs) - live:  # pods deleted: their lines are of no use
                del self._logs[gone]
            todo = due(pods, self._logs, self.clock(), self.container, self.every, self.per_round)
        for pod in todo:
            ready = _ready(pod)  # before the read: a line logged after it is in this read
            text, error = self._fetch(pod)
            with self._lock:
                log = self._logs.setdefault(_uid(pod), PodLog())
                log.read_at = self.clock()
                log.error = error
                if text is not None:
                    log.startup = parse(text)
                log.read_after_ready = log.read_after_ready or ready

    def _fetch(self, pod: Obj) -> tuple[str | None, str | None]:
        name = str((pod.get("metadata") or {}).get("name"))
        try:
            response = self.api.call_api(
                f"/api/v1/namespaces/{self.namespace}/pods/{name}/log",
                "GET",
                query_params=[
                    ("container", self.container),
                    ("timestamps", "true"),
                    ("limitBytes", str(LIMIT_BYTES)),
                ],
                # the API server refuses "text/plain" here (406) though it answers in it
                header_params={"Accept": "*/*"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=(min(self.timeout, 3.0), self.timeout),
                _return_http_data_only=True,
            )
        except k8s_client.ApiException as exc:
            return None, f"log of {name}: HTTP {exc.status} {status_message(exc)}"
        except Exception as exc:  # a kubelet or API server away must never stop the reader
            return None, f"log of {name}: {type(exc).__name__}: {exc}"
        return bytes(response.data).decode("utf-8", errors="replace"), None

    def _run(self) -> None:
        while not self._stop.wait(self.every / 2):
            try:
                self.read_round()
            except Exception:  # a bad round must not end the reader: the next one retries
                continue
