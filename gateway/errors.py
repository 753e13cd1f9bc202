"""OpenAI-style errors: `{"error": {"message", "type", "code"}}` with a 4xx/5xx status."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException


class ApiError(HTTPException):
    """An error the client caused or must know about; rendered OpenAI style.

    Subclassing HTTPException lets it pass through FastAPI's body parsing untouched.
    """

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.message = message
        self.code = code
        self.type = type_ or default_type(status)


def default_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 404:
        return "not_found_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "upstream_error" if status in (502, 503, 504) else "server_error"
    return "invalid_request_error"


def error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "code": code}}


def error_bytes(message: str, type_: str, code: str | None) -> bytes:
    return json.dumps(error_body(message, type_, code)).encode()
