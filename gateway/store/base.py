"""What every store is: the interface and its one error (local.py and s3.py implement it)."""

from __future__ import annotations

import abc
from typing import Any

from gateway.state import Record


class StoreError(Exception):
    """The store could not make a record durable; the request must not be acknowledged."""


class Store(abc.ABC):
    @abc.abstractmethod
    async def load(self) -> list[Record]:
        """Every record saved so far (any revision order; callers keep the newest)."""

    @abc.abstractmethod
    async def save(self, rec: Record) -> None:
        """Make one record durable before returning; raise StoreError if that is impossible."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Flush what can be flushed and release files and connections."""

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """Kind and health for /readyz (e.g. how many records wait in the S3 spool)."""
