"""One exception base for everything a presenter can get wrong or the world can break.

The CLI edge (``tubedemo.cli``) turns any ``TubedemoError`` into one line on stderr and its
family's ``exit_code``; nothing below the edge prints tracebacks or calls ``sys.exit``. Each
family below has its own exit code (the table is in the README, "Exit codes"); a new error
subclasses a family rather than inventing a code. Errors keep their cause (``raise ... from
exc``); ``TUBEDEMO_DEBUG=1`` makes the edge print the cause chain under the one line.

Imports nothing (the bottom of the layers).
"""

from __future__ import annotations

import os
import traceback

DEBUG_ENV = "TUBEDEMO_DEBUG"
"""Set to 1 to have the CLI edge print the cause chain (a traceback) under the one-line error."""


class TubedemoError(Exception):
    """A failure the presenter can act on: the message says what happened and what to do."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class Cancelled(TubedemoError):
    """The presenter said no at a prompt; nothing was changed. Exit 1, like click's Abort."""

    exit_code = 1


class UsageError(TubedemoError):
    """The command line or demo.yaml asks for something that cannot be done as given.

    Exit 2, like click's own usage errors (unknown option, missing argument).
    """

    exit_code = 2


class ConfigError(UsageError):
    """demo.yaml is missing, unreadable or has a wrong field."""


class ValidationFailed(TubedemoError):
    """Rendered manifests do not pass the schemas or the formula check."""

    exit_code = 3


class CrdCacheError(TubedemoError):
    """Upstream CRD schemas could not be fetched or read."""

    exit_code = 4


class ClusterError(TubedemoError):
    """The Kubernetes API refused, failed or is unreachable."""

    exit_code = 5


class PreflightFailed(ClusterError):
    """A prerequisite of `up` is missing, in the cluster or the AWS account (a role, a quota,
    a queue); the message is the first failing check and its fix."""


class ExternalToolError(TubedemoError):
    """A helper program (k6, the gateway, a browser) is missing or failed to start."""

    exit_code = 6


class GatewayError(TubedemoError):
    """The gateway could not be reached or refused a request."""

    exit_code = 7


class RecordingError(TubedemoError):
    """A Snapshot recording (JSONL) cannot be written, read or replayed."""

    exit_code = 8


class ReportError(TubedemoError):
    """``tubedemo report`` cannot read its inputs (k6 output) or draw the charts."""

    exit_code = 9


class TwinError(TubedemoError):
    """The twin cannot model what the config asks for (unknown trigger, bad formula, ...)."""

    exit_code = 10


class K6ThresholdsFailed(TubedemoError):
    """k6 ran, but more requests failed than k6.max_error_rate allows."""

    exit_code = 11


class QrError(TubedemoError):
    """The audience URL cannot be encoded as a QR code or the PNG cannot be written."""

    exit_code = 12


class ExportError(TubedemoError):
    """The survey export cannot be written."""

    exit_code = 13


class InstallError(TubedemoError):
    """tubedemo's own installation is broken (a shipped folder is missing): reinstall."""

    exit_code = 14


class ImageNotSet(TubedemoError):
    """A deployed image reference (gateway.image, ...) was never set or pushed: run images push."""

    exit_code = 15


class ImageError(TubedemoError):
    """An image could not be built or pushed (image tool, registry, ECR)."""

    exit_code = 16


class NotPrepared(TubedemoError):
    """What the talk starts from (the image snapshot, the weights in S3) is not there yet:
    run `tubedemo prepare`, or choose the cold path explicitly."""

    exit_code = 17


class PrepareError(TubedemoError):
    """`tubedemo prepare` failed (the hub, the snapshot builder's pull, a snapshot in error)."""

    exit_code = 18


class AwsError(TubedemoError):
    """AWS refused a call or cannot be reached: no or expired credentials, access denied,
    throttling, an unreachable endpoint, or a named AWS error code (tubedemo.aws.errors is the
    one translator of botocore's failures into this family).

    The one rule: AWS's refusal wins. When an AWS call fails inside `prepare`, `images push`,
    preflight or the prepared lookup, the exit code is this family's, not PrepareError's,
    ImageError's, NotPrepared's or ClusterError's; those families stay for what is not an AWS
    call failing (the hub, the image tool, a builder whose pull failed, nothing prepared yet, a
    missing role or quota that AWS reported without refusing)."""

    exit_code = 19


EXIT_CODES: dict[int, str] = {
    0: "success",
    **{
        cls.exit_code: cls.__name__
        for cls in (
            Cancelled,
            UsageError,
            ValidationFailed,
            CrdCacheError,
            ClusterError,
            ExternalToolError,
            GatewayError,
            RecordingError,
            ReportError,
            TwinError,
            K6ThresholdsFailed,
            QrError,
            ExportError,
            InstallError,
            ImageNotSet,
            ImageError,
            NotPrepared,
            PrepareError,
            AwsError,
        )
    },
}
"""Exit code -> family, the README's table (a test checks that the two agree)."""


def debug_enabled(environ: dict[str, str] | None = None) -> bool:
    """Whether ``TUBEDEMO_DEBUG`` asks for the cause chain (1, true, yes)."""
    value = (os.environ if environ is None else environ).get(DEBUG_ENV, "")
    return value.strip().lower() in ("1", "true", "yes")


def error_lines(exc: TubedemoError, *, debug: bool) -> list[str]:
    """What the edge prints for ``exc``: one line, plus the cause chain when debugging. Pure."""
    lines = [f"error: {exc.message}"]
    if debug:
        lines.append(f"cause chain ({DEBUG_ENV}=1), outermost last:")
        lines.extend(line.rstrip("\n") for line in traceback.format_exception(exc) if line.strip())
    return lines


# --- an error's text on one line: the rules every module uses, defined once -------------------


def first_line(text: str) -> str:
    """The first non-blank line of ``text`` (stripped), or "" when it is blank."""
    stripped = text.strip()
    return stripped.splitlines()[0] if stripped else ""


def one_line(text: str, limit: int = 600) -> str:
    """All of a message on one line (whitespace collapsed), cut at ``limit`` characters.

    For refusals whose later lines carry the reason: an admission webhook (KEDA's, Karpenter's
    CRD validation) lists each problem on a line of its own after "denied the request:"."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def brief(exc: BaseException, limit: int | None = None) -> str:
    """An exception as ``Type: first line`` (the line cut at ``limit``), or just its type when
    it has no message: how a failing source is named on the dashboard and in logs."""
    line = first_line(str(exc))
    if not line:
        return type(exc).__name__
    return f"{type(exc).__name__}: {line if limit is None else line[:limit]}"
