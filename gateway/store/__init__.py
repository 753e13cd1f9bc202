"""Where survey data lives: a small interface (base.py) and two real implementations (local.py,
s3.py), chosen by make_store.

`save` returns only once the record is durable (fsynced on disk, stored in S3, or fsynced in
the S3 spool); the gateway answers 2xx after that, so nothing acknowledged is lost.
"""

from __future__ import annotations

from typing import Any

from gateway.store.base import Store, StoreError

__all__ = ["Store", "StoreError", "make_store"]


def make_store(settings: Any) -> Store:
    """The store the settings ask for (S3 when a bucket is set, else the local directory)."""
    if settings.s3_bucket:
        from gateway.store.s3 import S3Store

        return S3Store(settings.s3_bucket, settings.s3_prefix, settings.spool_dir)
    from gateway.store.local import LocalStore

    return LocalStore(settings.store)
