"""LocalStore: an fsynced append-only journal in a directory (the embedded default).

Every save is written and fsynced before it returns. Concurrent saves share one fsync (group
commit), which is how a single disk keeps up with a room submitting at once. On load the
journal is compacted to the newest revision per key with an atomic replace (write a temp
file, fsync, rename, fsync the directory), so a crash mid-compaction leaves the old journal.
A torn last line (power cut mid-write, never acknowledged) is skipped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path
from typing import IO, Any

from gateway.state import Record, latest
from gateway.store.base import Store, StoreError

log = logging.getLogger("gateway.store")

JOURNAL = "journal.jsonl"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace path with data so that a reader sees the old or the new file, never half."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class LocalStore(Store):
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / JOURNAL
        self._fh: IO[bytes] | None = None
        self._queue: list[tuple[str, list[bytes], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.saved = 0

    def describe(self) -> dict[str, Any]:
        return {"kind": "local", "directory": str(self.directory), "saved": self.saved}

    def _read(self) -> list[Record]:
        if not self.path.exists():
            return []
        records: list[Record] = []
        lines = self.path.read_bytes().splitlines()
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                records.append(Record.from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError):
                if number == len(lines):
                    log.warning("skipping torn last line of %s", self.path)
                else:
                    raise StoreError(f"{self.path}:{number} is not a journal record") from None
        return records

    def _load_and_compact(self) -> list[Record]:
        self.directory.mkdir(parents=True, exist_ok=True)
        records = latest(self._read())
        atomic_write(self.path, b"".join(_line(r) for r in records))
        return records

    async def load(self) -> list[Record]:
        try:
            return await asyncio.to_thread(self._load_and_compact)
        except OSError as exc:
            raise StoreError(f"cannot read the store at {self.directory}: {exc}") from exc

    async def save(self, rec: Record) -> None:
        await self._submit("append", [_line(rec)])

    async def replace(self, records: list[Record]) -> None:
        """Atomically make the journal hold exactly these records (ordered with saves)."""
        await self._submit("replace", [_line(r) for r in records])

    async def _submit(self, op: str, lines: list[bytes]) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((op, lines, fut))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await asyncio.shield(fut)

    async def _drain(self) -> None:
        while self._queue:
            batch = []
            while self._queue and self._queue[0][0] == "append":
                batch.append(self._queue.pop(0))
            if batch:
                lines = [line for _, ls, _ in batch for line in ls]
                await self._run(self._append, lines, [f for _, _, f in batch])
            if self._queue and self._queue[0][0] == "replace":
                _, lines, fut = self._queue.pop(0)
                await self._run(self._replace, lines, [fut])

    async def _run(self, fn: Any, lines: list[bytes], futs: list[asyncio.Future[None]]) -> None:
        try:
            await asyncio.to_thread(fn, lines)
        except OSError as exc:
            self._close_fh()
            err = StoreError(f"cannot write to {self.path}: {exc}")
            for fut in futs:
                if not fut.done():
                    fut.set_exception(err)
        else:
            self.saved += len(lines) if fn == self._append else 0
            for fut in futs:
                if not fut.done():
                    fut.set_result(None)

    def _append(self, lines: list[bytes]) -> None:
        if self._fh is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "ab")  # noqa: SIM115 - kept open across saves
        self._fh.write(b"".join(lines))
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def _replace(self, lines: list[bytes]) -> None:
        self._close_fh()
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, b"".join(lines))

    def _close_fh(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            finally:
                self._fh = None

    async def close(self) -> None:
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)
        self._close_fh()


def _line(rec: Record) -> bytes:
    return json.dumps(rec.to_json(), separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
