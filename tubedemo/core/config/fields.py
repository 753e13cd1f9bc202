"""The building blocks of every config section: the Section base (unknown keys are errors, a
field's docstring is its documentation), durations written as 90s / 2m / 1h30m, ramps, account
ids and CIDRs."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from tubedemo.core.durations import format_duration, parse_duration

Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]
"""Seconds, written in demo.yaml as 90s / 2m / 1h30m."""

AUTO = "auto"
"""gpu_pool.image_snapshot_id / model.weights_uri: what `tubedemo prepare` made for this config
(`up` resolves it to concrete ids before rendering, and refuses while it does not exist)."""

Mode = Literal["quiz", "survey"]

Profile = Literal["eks", "local"]


def _account_id(value: Any) -> Any:
    """An account id written unquoted reaches us as an int (YAML reads 123456789012 as a
    number, and `--set` values are YAML): the id is its digits. One with a leading zero stays
    text (ConfigLoader), so nothing is padded: 12345 is still refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


AccountId = Annotated[str, BeforeValidator(_account_id), Field(pattern=r"^[0-9]{12}$")]
"""A 12-digit AWS account id, always a string (ids may start with 0)."""


def cidr(value: str) -> str:
    """``value`` unchanged when it is a CIDR range; a validator's ValueError naming it if not."""
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a CIDR range (e.g. 10.0.0.0/16)") from exc
    return value


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, docstrings document fields."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


Ramp = Annotated[list[float], Field(min_length=2, max_length=2)]
"""[from, to], ramped linearly over a phase."""

VusRamp = Annotated[list[int], Field(min_length=2, max_length=2)]
"""[from, to] VUs, ramped linearly over a phase."""
