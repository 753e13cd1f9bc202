"""S3Store: one JSON object per record in a bucket, with a local fsynced spool for outages.

Key layout (docs/api.md, "Storage"): `<prefix>/<record path>.json`, e.g.
`tubedemo/sessions/<session>/submissions/<client id>.json`. A record is an upsert, so a
resubmit overwrites the same object and never duplicates.

When S3 fails, the record goes to the spool (a LocalStore journal) and the request is
acknowledged; while anything is spooled, new records are spooled behind it so S3 sees them in
order, and a background task flushes the spool once S3 answers again. Startup merges S3 and
the spool by revision, so a restart during an outage loses nothing either.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gateway.state import Record, latest
from gateway.store.base import Store, StoreError
from gateway.store.local import LocalStore

log = logging.getLogger("gateway.store")

_S3_ERRORS = (BotoCoreError, ClientError, OSError)


class S3Store(Store):
    def __init__(
        self,
        bucket: str,
        prefix: str = "tubedemo",
        spool_dir: Path | None = None,
        *,
        endpoint_url: str | None = None,
        flush_interval_s: float = 1.0,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.spool = LocalStore(
            Path(spool_dir) if spool_dir else Path(tempfile.gettempdir()) / "tubedemo-spool"
        )
        self.flush_interval_s = flush_interval_s
        # Short timeouts and few retries: a slow S3 must spool quickly, not hold the phone.
        self._client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(
                connect_timeout=2,
                read_timeout=5,
                retries={"max_attempts": 2, "mode": "standard"},
                max_pool_connections=32,
            ),
        )
        self._pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="s3")
        self._spooled: list[Record] = []
        self._key_locks: dict[str, asyncio.Lock] = {}
        self._flusher: asyncio.Task[None] | None = None
        self.uploaded = 0

    def key(self, rec: Record) -> str:
        return f"{self.prefix}/{rec.path}.json" if self.prefix else f"{rec.path}.json"

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "s3",
            "bucket": self.bucket,
            "prefix": self.prefix,
            "spooled": len(self._spooled),
            "uploaded": self.uploaded,
        }

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))

    def _list_and_get(self) -> list[Record]:
        paginator = self._client.get_paginator("list_objects_v2")
        keys = [
            obj["Key"]
            for page in paginator.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}/")
            for obj in page.get("Contents", [])
            if obj["Key"].endswith(".json")
        ]

        def get(key: str) -> Record:
            body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            return Record.from_json(json.loads(body))

        with ThreadPoolExecutor(max_workers=16) as pool:
            return list(pool.map(get, keys))

    async def load(self) -> list[Record]:
        spooled = latest(await self.spool.load())
        try:
            remote = await self._call(self._list_and_get)
        except _S3_ERRORS as exc:
            raise StoreError(f"cannot read s3://{self.bucket}/{self.prefix}/: {exc}") from exc
        self._spooled = spooled
        if spooled:
            log.warning("%d records wait in the S3 spool; flushing in the background", len(spooled))
            self._ensure_flusher()
        return latest(remote + spooled)

    def _put(self, rec: Record) -> None:
        body = json.dumps(rec.to_json(), separators=(",", ":"), ensure_ascii=False).encode()
        self._client.put_object(
            Bucket=self.bucket, Key=self.key(rec), Body=body, ContentType="application/json"
        )

    async def save(self, rec: Record) -> None:
        if not self._spooled:
            # One writer per key: two quick resubmits must land in S3 in revision order.
            lock = self._key_locks.setdefault(rec.path, asyncio.Lock())
            async with lock:
                try:
                    if not self._spooled:
                        await self._call(self._put, rec)
                        self.uploaded += 1
                        return
                except _S3_ERRORS as exc:
                    log.warning("S3 put failed (%s); spooling %s", exc, rec.path)
        await self._spool(rec)

    async def _spool(self, rec: Record) -> None:
        self._spooled.append(rec)
        try:
            await self.spool.save(rec)
        except StoreError:
            self._spooled.remove(rec)
            raise
        self._ensure_flusher()

    def _ensure_flusher(self) -> None:
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())

    async def _flush_loop(self) -> None:
        while self._spooled:
            if not await self.flush_once():
                await asyncio.sleep(self.flush_interval_s)

    async def flush_once(self) -> bool:
        """Upload spooled records in order; True when the spool is empty afterwards."""
        done = 0
        for rec in list(self._spooled):
            try:
                await self._call(self._put, rec)
            except _S3_ERRORS as exc:
                log.info("S3 still unavailable (%s); %d records spooled", exc, len(self._spooled))
                break
            done += 1
            self.uploaded += 1
        if done:
            self._spooled = self._spooled[done:]
            await self.spool.replace(self._spooled)
            log.info("flushed %d spooled records to S3", done)
        return not self._spooled

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
        if self._spooled:
            # Whatever does not make it stays spooled on disk; the next start flushes it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush_once(), timeout=5)
        await self.spool.close()
        self._pool.shutdown(wait=False)
