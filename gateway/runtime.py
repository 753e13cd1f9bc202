"""`Gateway`: the runtime of one gateway process (store, state, limits, upstream, mode watch).

Single replica by design (docs/api.md). It performs what `state.State` decides: records are
stored first and applied to the state only once stored, so a 2xx always means persisted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from typing import Any

from starlette.requests import Request

from gateway import state as st
from gateway.errors import ApiError
from gateway.fairshare import Presence, StreamGate
from gateway.identity import IdentityKeys, derive
from gateway.limits import ClientAddress, Limiter, RetryAfterWatch, TokenBuckets, room_burst
from gateway.metrics import Metrics
from gateway.modewatch import ModeWatch, default_api_url
from gateway.settings import GatewaySettings
from gateway.store import Store, StoreError
from gateway.upstream import Upstream, make_upstream

log = logging.getLogger("gateway")


class Gateway:
    """Runtime state of one gateway process; routes reach it as `request.app.state.gateway`."""

    def __init__(
        self, settings: GatewaySettings, store: Store, sources: st.Sources | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.state = st.State(sources)
        self.metrics = Metrics()
        self.limiter = Limiter(
            settings.rate_chat_per_min,
            settings.rate_survey_per_min,
            settings.rate_address_per_min,
            settings.rate_chat_burst,
        )
        self.address = ClientAddress(settings.trusted_proxies)
        self.keys = IdentityKeys(settings.admin_token)
        self.presence = Presence(settings.presence_window_s)
        self.gate = StreamGate(
            settings.max_streams if settings.fair_share else 0,
            room=settings.room_size,
            floor_fraction=settings.address_share_floor,
            presence=self.presence,
        )
        self.issuance = TokenBuckets(
            settings.identity_per_min, settings.identity_burst or room_burst(settings.room_size)
        )
        self.retry_watch = RetryAfterWatch()
        self._origin_key = derive(settings.admin_token, "origin")
        self.counted: dict[str, int] = {}
        """Counted questions per identity in the current session (bounded with the session)."""
        self.upstream: Upstream | None = None
        self.mode: str = settings.mode or "quiz"
        # the audience URL `tubedemo up` recorded in the mode ConfigMap (the load balancer's
        # address); TUBEDEMO_AUDIENCE_URL, when set, wins over it
        self.recorded_audience_url: str = ""
        self.loaded = False
        self.watch: ModeWatch | None = None
        self.watch_task: asyncio.Task[None] | None = None
        self.status: dict[str, Any] | None = None
        self.status_at: float | None = None
        self.forecast: list[tuple[float, int]] = []
        """The conductor's forecast (unix seconds, replicas), sorted; GET /forecast reads it."""
        self.warm_capacity: list[tuple[float, int]] = []
        """The warm capacity's placeholder count (unix seconds, pods), sorted; GET /forecast
        serves it beside the forecast."""
        self.admin_lock = asyncio.Lock()
        self.background: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self.state.replay(await self.store.load())
        if self.settings.mode is not None:
            self.mode = self.settings.mode
        elif self.state.mode in ("quiz", "survey"):
            self.mode = self.state.mode
        if not self.state.has_session():
            await self.save_all(self.state.open_session("first session"))
        s = self.settings
        self.upstream = make_upstream(
            s.upstream_client,
            s.upstream,
            s.upstream_connect_timeout_s,
            s.upstream_read_timeout_s,
            s.upstream_max_connections,
            s.upstream_api_key,
        )
        if s.mode_configmap:
            namespace, name = s.mode_configmap.split("/")
            api = s.kube_api or default_api_url()
            if api is None:
                raise RuntimeError(
                    "TUBEDEMO_MODE_CONFIGMAP is set but no API server: set TUBEDEMO_KUBE_API "
                    "or run in a pod (KUBERNETES_SERVICE_HOST)"
                )
            self.watch = ModeWatch(
                api,
                namespace,
                name,
                self._set_mode_from_cluster,
                on_audience_url=self._set_audience_url_from_cluster,
                token_file=s.kube_token_file,
                ca_file=s.kube_ca_file,
            )
            self.watch_task = asyncio.create_task(self.watch.run())
        self.loaded = True

    async def stop(self) -> None:
        if self.watch_task is not None:
            self.watch_task.cancel()
            await asyncio.gather(self.watch_task, return_exceptions=True)
        await asyncio.gather(*self.background, return_exceptions=True)
        if self.upstream is not None:
            await self.upstream.close()
        await self.store.close()

    def _set_audience_url_from_cluster(self, url: str) -> None:
        if url != self.recorded_audience_url:
            log.info("audience URL %s (ConfigMap)", url)
        self.recorded_audience_url = url

    @property
    def audience_url(self) -> str:
        """What the page and the presenter screen show: the env's, else the recorded one."""
        return self.settings.audience_url or self.recorded_audience_url

    def _set_mode_from_cluster(self, mode: str) -> None:
        if mode != self.mode:
            log.info("mode %s -> %s (ConfigMap)", self.mode, mode)
        self.mode = mode

    # ------------------------------------------------------------------ records
    async def save(self, rec: st.Record) -> None:
        """Persist, then apply; the caller answers 2xx only after this returns."""
        try:
            await self.store.save(rec)
        except StoreError as exc:
            log.error("store failed: %s", exc)
            raise ApiError(
                503, "could not store your answer; please try again", "store_unavailable"
            ) from exc
        self.state.apply(rec)

    async def save_all(self, records: list[st.Record]) -> None:
        for rec in records:
            await self.save(rec)

    def origin(self, address: str) -> str:
        """A keyed hash of a source address: groups a session's entries by where they came
        from without keeping anyone's address (12 hex digits)."""
        return hmac.new(self._origin_key, address.encode(), hashlib.sha256).hexdigest()[:12]

    def remember_question(self, text: str, identity: str | None) -> None:
        """Count a question at once; store it in the background (not worth failing the answer).

        An identity's questions beyond questions_per_person are answered but not kept (the page
        counts the same), and a session keeps at most max_questions."""
        s = self.settings
        if identity is not None:
            asked = self.counted.get(identity, 0)
            if asked >= s.questions_per_person:
                return
            if len(self.counted) >= s.max_submissions + s.max_questions:
                self.counted.clear()  # memory bound; the session ceiling below still holds
            self.counted[identity] = asked + 1
        if len(self.state.session().questions) >= s.max_questions:
            return
        rec = self.state.question(text)
        self.state.apply(rec)
        self.metrics.questions.inc()

        async def persist() -> None:
            try:
                await self.store.save(rec)
            except StoreError as exc:
                log.warning("question not stored: %s", exc)

        task = asyncio.create_task(persist())
        self.background.add(task)
        task.add_done_callback(self.background.discard)


def of(request: Request) -> Gateway:
    """The Gateway serving this request."""
    gw: Gateway = request.app.state.gateway
    return gw
