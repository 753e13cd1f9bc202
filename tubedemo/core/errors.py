"""One exception base for everything a presenter can get wrong or the world can break.

The CLI edge (``tubedemo.cli``) turns any ``TubedemoError`` into one line on stderr and
its ``exit_code``; nothing below the edge prints tracebacks or calls ``sys.exit``.
"""

from __future__ import annotations


class TubedemoError(Exception):
    """A failure the presenter can act on: the message says what happened and what to do."""

    exit_code: int = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class ConfigError(TubedemoError):
    """demo.yaml is missing, unreadable or has a wrong field."""

    exit_code = 2


class ValidationFailed(TubedemoError):
    """Rendered manifests do not pass the schemas or the formula check."""

    exit_code = 3


class CrdCacheError(TubedemoError):
    """Upstream CRD schemas could not be fetched or read."""

    exit_code = 4


class ClusterError(TubedemoError):
    """The Kubernetes API refused, failed or is unreachable."""

    exit_code = 5


class ExternalToolError(TubedemoError):
    """A helper program (k6, the gateway, a browser) is missing or failed to start."""

    exit_code = 6


class GatewayError(TubedemoError):
    """The gateway could not be reached or refused a request."""

    exit_code = 7
