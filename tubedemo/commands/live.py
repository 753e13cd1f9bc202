"""Where the live dashboard reads from, wired once for `watch` and `show`: the cluster (watches,
pod-proxy scrapes, the gateway Service through the API server), a rehearsal's fleet simulator,
or bare URLs. Heavy imports stay inside the function (commands import only what they use)."""

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tubedemo.core.config import DemoConfig

if TYPE_CHECKING:
    from tubedemo.cluster.watch import KubeWatchFeed
    from tubedemo.telemetry.http_sources import HttpGatewayFeed, HttpMetricsFeed, TwinStateFeed


@dataclass
class LiveSources:
    """The feeds an Assembler reads; `close` releases every one."""

    kube: "KubeWatchFeed | TwinStateFeed | None"
    twin: "TwinStateFeed | None"
    metrics: "HttpMetricsFeed"
    gateway: "HttpGatewayFeed"

    def close(self) -> None:
        if self.kube is not None:
            self.kube.close()
        self.metrics.close()
        self.gateway.close()


def live_sources(
    cfg: DemoConfig,
    *,
    kube: bool,
    twin: str | None = None,
    kubeconfig: Path | None = None,
    context: str | None = None,
    namespace: str | None = None,
    gateway_url: str | None = None,
) -> LiveSources:
    """Connect the feeds: `twin` (a fleet simulator URL) wins over `kube`; the gateway is
    `gateway_url`, else gateway.url, else (on a cluster) its Service through the API server,
    else talk.audience_url. A kubeconfig that does not work is a one-line ClusterError."""
    from tubedemo.telemetry.http_sources import HttpGatewayFeed, HttpMetricsFeed, TwinStateFeed

    timeout = cfg.dashboard.metrics_timeout
    ns = namespace or cfg.cluster.namespace
    kube_feed = None
    twin_feed = None
    if twin is not None:
        twin_feed = TwinStateFeed(twin, timeout=timeout)
    elif kube:
        from tubedemo.cluster.watch import KubeWatchFeed

        kube_feed = KubeWatchFeed.connect(
            cfg,
            kubeconfig=kubeconfig,
            context=context or cfg.cluster.context,
            namespace=ns,
            stale_after=cfg.dashboard.stale_after,
        )
    metrics = HttpMetricsFeed(
        proxy_fetch=kube_feed.fetch_metrics if kube_feed is not None else None, timeout=timeout
    )
    url = gateway_url or cfg.gateway.url
    if url is None and kube_feed is not None:
        from tubedemo.cluster.gateway_proxy import ServiceProxyTransport

        transport = ServiceProxyTransport(kube_feed.api, ns, timeout=timeout)
        gateway = HttpGatewayFeed("http://gateway.invalid", timeout=timeout, transport=transport)
    else:
        # no address known (no cluster, no --gateway): a name that never resolves (RFC 6761
        # .invalid), so the gateway panel shows unavailable instead of guessing localhost
        direct = url or cfg.talk.audience_url or "http://gateway.invalid"
        gateway = HttpGatewayFeed(direct, timeout=timeout)
    return LiveSources(
        kube=twin_feed or kube_feed, twin=twin_feed, metrics=metrics, gateway=gateway
    )
