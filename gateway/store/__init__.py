"""Where survey data lives: a small interface and two real implementations.

`save` returns only once the record is durable (fsynced on disk, stored in S3, or fsynced in
the S3 spool); the gateway answers 2xx after that, so nothing acknowledged is lost.
"""

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


def make_store(settings: Any) -> Store:
    """The store the settings ask for (S3 when a bucket is set, else the local directory)."""
    if settings.s3_bucket:
        from gateway.store.s3 import S3Store

        return S3Store(settings.s3_bucket, settings.s3_prefix, settings.spool_dir)
    from gateway.store.local import LocalStore

    return LocalStore(settings.store)
