"""The API server's refusals become one line that still carries every reason it gave."""

from __future__ import annotations

import json

from kubernetes.client import ApiException

from tubedemo.cluster.errors import api_error
from tubedemo.core.errors import one_line

WEBHOOK_DENIAL = (
    'admission webhook "vscaledobject.kb.io" denied the request:\n'
    "error validating formula in ScalingModifiers: unknown name clamp_min\n"
    "trigger 1 has no name; triggers used in a formula need one"
)


def _refusal(status: int, reason: str, message: str) -> ApiException:
    exc = ApiException(status=status, reason=reason)
    exc.body = json.dumps({"kind": "Status", "reason": reason, "message": message})
    return exc


def test_a_webhook_denial_keeps_every_line_of_its_reason_on_one_line() -> None:
    error = api_error(
        _refusal(400, "BadRequest", WEBHOOK_DENIAL), "PATCH scaledobjects/vllm", server="s"
    )
    assert "\n" not in error.message
    assert "unknown name clamp_min" in error.message
    assert "trigger 1 has no name" in error.message


def test_a_very_long_refusal_is_cut_with_an_ellipsis() -> None:
    line = one_line("x " * 1000, limit=50)
    assert len(line) == 50 and line.endswith("…")
