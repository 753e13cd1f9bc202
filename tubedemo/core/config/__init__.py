"""DemoConfig: the one typed model of demo.yaml that everything else reads.

Every field carries a one-line docstring with its unit and the reason it exists; ``tubedemo init``
turns those docstrings into the comments of the default demo.yaml. Durations are written like
``90s``, ``2m`` or ``1h30m`` and held as seconds (float).

Import from here (``from tubedemo.core.config import DemoConfig, load_config``): this face
re-exports every public name. The sections live by what they configure.

Modules: ``fields`` (the Section base and the field types: Duration, Ramp, AccountId, CIDRs,
AUTO), ``deployment`` (what `up` deploys and where: cluster, model, gpu_pool, gateway, storage,
web, otel, local, prerequisites), ``scaling`` (KEDA's ScaledObject and the HPA behaviour it
carries), ``talk_plan`` (the talk, its timeline of phases, the k6 load generator),
``twin_models`` (the twin's parameters: audience, engine, start-up, HPA controller, seed),
``dashboard_settings`` (the live dashboard and the prices of its cost figures), ``demo``
(DemoConfig itself, the rules spanning sections, the values derived from them), ``loading``
(reading demo.yaml and --set; one-line validation errors).
"""

from tubedemo.core.config.dashboard_settings import DashboardConfig, PriceTable
from tubedemo.core.config.demo import (
    ACCOUNT_PLACEHOLDER,
    DEADLINE_PLACEHOLDER,
    SNAPSHOT_PLACEHOLDER,
    DemoConfig,
)
from tubedemo.core.config.deployment import (
    ClusterConfig,
    FairShare,
    GatewayConfig,
    GpuPoolConfig,
    IngressConfig,
    LocalProfileConfig,
    ModelConfig,
    OtelConfig,
    PrerequisitesConfig,
    RateLimits,
    StorageConfig,
    WebConfig,
)
from tubedemo.core.config.fields import (
    AUTO,
    AccountId,
    Duration,
    Mode,
    Profile,
    Ramp,
    Section,
    VusRamp,
)
from tubedemo.core.config.loading import MOVED, ConfigLoader, config_from_dict, load_config
from tubedemo.core.config.scaling import (
    FORECAST_METRIC,
    HEARTBEAT_LABEL,
    HEARTBEAT_METRIC,
    WARM_CAPACITY_METRIC,
    FallbackConfig,
    ForecastConfig,
    HpaPolicy,
    HpaRules,
    ScalingConfig,
    WarmCapacityConfig,
)
from tubedemo.core.config.talk_plan import K6Config, Phase, TalkConfig, TimelineConfig
from tubedemo.core.config.twin_models import (
    AudienceConfig,
    EngineModel,
    HpaControllerConfig,
    StartupModel,
    TwinConfig,
)

__all__ = [
    "ACCOUNT_PLACEHOLDER",
    "AUTO",
    "DEADLINE_PLACEHOLDER",
    "FORECAST_METRIC",
    "HEARTBEAT_LABEL",
    "HEARTBEAT_METRIC",
    "MOVED",
    "SNAPSHOT_PLACEHOLDER",
    "WARM_CAPACITY_METRIC",
    "AccountId",
    "AudienceConfig",
    "ClusterConfig",
    "ConfigLoader",
    "DashboardConfig",
    "DemoConfig",
    "Duration",
    "EngineModel",
    "FairShare",
    "FallbackConfig",
    "ForecastConfig",
    "GatewayConfig",
    "GpuPoolConfig",
    "HpaControllerConfig",
    "HpaPolicy",
    "HpaRules",
    "IngressConfig",
    "K6Config",
    "LocalProfileConfig",
    "Mode",
    "ModelConfig",
    "OtelConfig",
    "Phase",
    "PrerequisitesConfig",
    "PriceTable",
    "Profile",
    "Ramp",
    "RateLimits",
    "ScalingConfig",
    "Section",
    "StartupModel",
    "StorageConfig",
    "TalkConfig",
    "TimelineConfig",
    "TwinConfig",
    "VusRamp",
    "WarmCapacityConfig",
    "WebConfig",
    "config_from_dict",
    "load_config",
]
