"""Which images tubedemo deploys that are its own, and what stands in for one not yet pushed.

Pure. ``gateway.image`` and ``local.vllm_stand_in_image`` have no default: an image is only
deployable once ``tubedemo images push`` pushed it (``--write`` puts the digest-pinned reference
into demo.yaml) or the user set it. ``render``/``validate`` must still work offline, so an unset
image renders as ``tubedemo.invalid/<image>:not-pushed``: ``.invalid`` is a reserved top-level
domain (RFC 2606) that never resolves, so a manifest applied by hand fails at the image pull
with a name that says what is wrong; ``tubedemo up`` refuses before applying anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tubedemo.core.errors import ImageNotSet

if TYPE_CHECKING:  # the CLI's start-up imports this module: no config models (pydantic) then
    from tubedemo.core.config import DemoConfig

PLACEHOLDER_REGISTRY = "tubedemo.invalid"
"""Registry host of the placeholder reference (a reserved TLD that never resolves)."""


@dataclass(frozen=True)
class OwnImage:
    """One image tubedemo builds from this repository and deploys."""

    name: str
    """Short name: the repository name under the registry's tubedemo/ prefix."""
    config_key: str
    """The demo.yaml field that holds its reference."""
    profiles: tuple[str, ...]
    """Profiles that deploy it."""

    @property
    def placeholder(self) -> str:
        return f"{PLACEHOLDER_REGISTRY}/{self.name}:not-pushed"


GATEWAY = OwnImage("gateway", "gateway.image", ("eks", "local"))
STANDIN = OwnImage("vllm-standin", "local.vllm_stand_in_image", ("local",))
OWN_IMAGES = (GATEWAY, STANDIN)


def configured(cfg: DemoConfig, image: OwnImage) -> str | None:
    """The reference demo.yaml sets for ``image``, or None."""
    if image is GATEWAY:
        return cfg.gateway.image
    return cfg.local.vllm_stand_in_image


def reference(cfg: DemoConfig, image: OwnImage) -> str:
    """What the manifests say: the configured reference, else the placeholder."""
    return configured(cfg, image) or image.placeholder


def require_deployable(cfg: DemoConfig) -> None:
    """Raise ImageNotSet naming the first image of cfg's profile that is not set."""
    for image in OWN_IMAGES:
        if cfg.profile not in image.profiles:
            continue
        ref = configured(cfg, image)
        if not ref or ref.split("/", 1)[0] == PLACEHOLDER_REGISTRY:
            raise ImageNotSet(
                f"{image.config_key} is not set: run `tubedemo images push --registry R "
                "--write` (or set it in demo.yaml)"
            )
