"""Schemathesis fuzzes every operation of the gateway's OpenAPI schema: zero 5xx, and every
4xx is an OpenAI-style error. Bounded: a fixed number of derandomized examples per operation.

(Schemathesis' pytest plugin for lazy fixtures breaks on pytest 9.2, so the operations'
Hypothesis strategies are driven directly; the generation is the same.)
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from gateway.fake_vllm import FakeVLLM

ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}
EXAMPLES = 40


def test_no_operation_answers_5xx(start_gateway, fake_vllm: FakeVLLM) -> None:  # type: ignore[no-untyped-def]
    fake_vllm.tokens, fake_vllm.record = 3, False
    g = start_gateway(mode="survey")
    schema = schemathesis.openapi.from_url(g.url + "/openapi.json")
    seen: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        seen.append(f"{operation.method.upper()} {operation.path}")

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case) -> None:  # type: ignore[no-untyped-def]
            # the admin token and a phone's identity: every operation past its front door
            response = case.call(headers={**ADMIN, **g.phone("fuzz")}, timeout=10)
            where = f"{case.method} {case.formatted_path} -> {response.status_code}"
            assert response.status_code < 500, (where, response.text[:300])
            if response.status_code >= 400:
                error = response.json()["error"]
                assert isinstance(error["message"], str) and error["message"], where

        check()
    assert "POST /v1/chat/completions" in seen and "POST /api/survey/submit" in seen
    assert len(seen) >= 15
    sent = sum(
        float(line.rsplit(" ", 1)[1])
        for line in g.http.get("/metrics").text.splitlines()
        if line.startswith("tubedemo_gateway_requests_total{")
    )
    assert sent >= 10 * len(seen), f"only {sent} requests reached the gateway"
    codes = g.http.get("/metrics").text
    assert 'code="500"' not in codes and 'code="502"' not in codes
