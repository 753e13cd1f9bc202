"""Storage: LocalStore journal and S3Store against moto in server mode, through the gateway."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

from gateway.state import Record
from gateway.store import StoreError
from gateway.store.local import LocalStore
from gateway.store.s3 import S3Store
from tests.gateway.moto_s3 import MotoS3


def submit(g, phone: str, rating: int = 4, company: str = "ACME"):  # type: ignore[no-untyped-def]
    """A survey answer from the phone called `phone` (its identity, obtained as the page does)."""
    body = {"rating": rating, "company": company, "name": phone}
    return g.anonymous.post("/api/survey/submit", json=body, headers=g.phone(phone))


def snapshot(g) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """Everything a restart must preserve, as the API shows it."""
    return {
        "config": g.http.get("/config").json(),
        "results": g.http.get("/api/survey/results").json(),
        "winners": g.http.get("/api/survey/winners").json(),
        "sessions": g.admin("GET", "/api/admin/sessions").json(),
        "questions": g.admin("GET", "/api/admin/questions").json(),
        "export": g.admin("GET", "/api/admin/export.csv").text,
    }


def populate(g) -> None:  # type: ignore[no-untyped-def]
    g.admin("POST", "/api/admin/mode", json={"mode": "survey"})
    for i in range(5):
        assert submit(g, f"old-{i}").status_code == 200
    g.admin("POST", "/api/admin/draw", json={"count": 2, "seed": 1})
    g.admin("POST", "/api/admin/session", json={"name": "second talk"})
    for i in range(8):
        assert submit(g, f"phone-{i}", rating=1 + i % 5, company=f"Co {i % 3}").status_code == 200
    submit(g, "phone-0", rating=5)  # an update
    g.http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "Q1"}]})
    g.admin("POST", "/api/admin/draw", json={"count": 3, "seed": 99})
    g.admin("POST", "/api/admin/draw", json={"count": 1, "redraw": True})


def test_restart_with_local_store_loses_nothing(start_gateway, tmp_path: Path) -> None:
    first = start_gateway()
    populate(first)
    deadline = time.monotonic() + 5
    while first.gw.store.describe()["saved"] < 25 and time.monotonic() < deadline:
        time.sleep(0.05)  # the question is stored in the background
    before = snapshot(first)
    first.stop()
    second = start_gateway()
    assert snapshot(second) == before
    assert before["config"]["mode"] == "survey"
    assert len(before["sessions"]) == 2 and before["results"]["total"] == 8


def test_concurrent_submits_are_all_durable(start_gateway) -> None:
    g = start_gateway()
    g.admin("POST", "/api/admin/mode", json={"mode": "survey"})
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda i: submit(g, f"p{i}").status_code, range(300)))
    assert codes == [200] * 300
    g.stop()
    # Read the journal itself: every acknowledged submission is on disk.
    records = asyncio.run(LocalStore(g.gw.settings.store).load())
    assert sum(r.kind == "submission" for r in records) == 300


def _rec(i: int) -> Record:
    return Record(kind="submission", session="s", key=f"c{i}", data={"i": i}, rev=i)


def test_torn_last_journal_line_is_skipped(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)

    async def write() -> None:
        for i in range(1, 4):
            await store.save(_rec(i))
        await store.close()

    asyncio.run(write())
    with open(tmp_path / "journal.jsonl", "ab") as fh:
        fh.write(b'{"kind": "submission", "ses')  # power cut mid-write: never acknowledged
    loaded = asyncio.run(LocalStore(tmp_path).load())
    assert [r.key for r in loaded] == ["c1", "c2", "c3"]
    # and the compaction rewrote the journal without the torn line
    assert (tmp_path / "journal.jsonl").read_bytes().count(b"\n") == 3


def test_corrupt_journal_line_in_the_middle_is_an_error_not_silent_loss(tmp_path: Path) -> None:
    (tmp_path / "journal.jsonl").write_text("garbage\n" + json.dumps(_rec(1).to_json()) + "\n")
    with pytest.raises(StoreError, match=r"journal\.jsonl:1"):
        asyncio.run(LocalStore(tmp_path).load())


def test_unwritable_store_answers_503_and_acknowledges_nothing(start_gateway, tmp_path) -> None:  # type: ignore[no-untyped-def]
    g = start_gateway()
    g.admin("POST", "/api/admin/mode", json={"mode": "survey"})
    journal = g.gw.settings.store / "journal.jsonl"
    g.gw.store._close_fh()
    journal.unlink()
    journal.mkdir()  # a directory where the journal should be: every write fails
    resp = submit(g, "phone-1")
    assert resp.status_code == 503
    assert resp.json()["error"]["code"] == "store_unavailable"
    assert g.http.get("/api/survey/results").json()["total"] == 0


# ---------------------------------------------------------------------- S3 (moto server)


def s3_keys(endpoint: str, bucket: str) -> list[str]:
    resp = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket=bucket)
    return sorted(o["Key"] for o in resp.get("Contents", []))


def wait_for(predicate, timeout: float = 10) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_s3_store_uses_the_documented_key_layout(start_gateway, s3, tmp_path) -> None:  # type: ignore[no-untyped-def]
    endpoint, bucket = s3.endpoint, s3.bucket
    g = start_gateway(s3_bucket=bucket, s3_prefix="talk", spool_dir=tmp_path / "spool")
    g.admin("POST", "/api/admin/mode", json={"mode": "survey"})
    sid = g.http.get("/config").json()["session"]
    submit(g, "phone-1")
    submit(g, "phone-1", rating=5)  # same object, updated
    draw_id = g.admin("POST", "/api/admin/draw", json={"count": 1}).json()["draw_id"]
    keys = s3_keys(endpoint, bucket)
    identity = g.phone("phone-1")["X-Tubedemo-Identity"].split(".")[0]
    assert f"talk/sessions/{sid}/submissions/{identity}.json" in keys
    assert f"talk/sessions/{sid}/draws/{draw_id}.json" in keys
    assert {"talk/mode/mode.json", "talk/current/current.json", f"talk/session/{sid}.json"} <= set(
        keys
    )
    assert sum("/submissions/" in k for k in keys) == 1
    body = boto3.client("s3", endpoint_url=endpoint).get_object(
        Bucket=bucket, Key=f"talk/sessions/{sid}/submissions/{identity}.json"
    )["Body"]
    assert json.loads(body.read())["data"]["rating"] == 5


def test_s3_outage_spools_acknowledged_submissions_and_flushes_them_later(
    start_gateway, s3, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    g = start_gateway(s3_bucket=s3.bucket, spool_dir=tmp_path / "spool")
    g.admin("POST", "/api/admin/mode", json={"mode": "survey"})
    s3.stop()  # S3 goes away
    assert [submit(g, f"phone-{i}").status_code for i in range(5)] == [200] * 5
    assert g.http.get("/readyz").json()["store"]["spooled"] == 5
    assert g.http.get("/api/survey/results").json()["total"] == 5
    assert s3_keys_or_none(s3) is None
    s3.start()
    assert wait_for(lambda: g.http.get("/readyz").json()["store"]["spooled"] == 0)
    assert sum("/submissions/" in k for k in s3_keys(s3.endpoint, s3.bucket)) == 5


def test_gateway_restart_during_s3_outage_loses_nothing(start_gateway, s3, tmp_path) -> None:  # type: ignore[no-untyped-def]
    endpoint, bucket = s3.endpoint, s3.bucket
    spool = tmp_path / "spool"
    first = start_gateway(s3_bucket=bucket, spool_dir=spool)
    first.admin("POST", "/api/admin/mode", json={"mode": "survey"})
    submit(first, "before-outage")
    s3.stop()
    for i in range(3):
        assert submit(first, f"during-{i}").status_code == 200
    submit(first, "before-outage", rating=1)  # an update queued behind the spool
    first.stop()
    s3.start()
    second = start_gateway(s3_bucket=bucket, spool_dir=spool)
    results = second.http.get("/api/survey/results").json()
    assert results["total"] == 4 and results["ratings"]["1"] == 1
    assert wait_for(lambda: second.http.get("/readyz").json()["store"]["spooled"] == 0)
    third_store = S3Store(bucket, spool_dir=tmp_path / "empty-spool", endpoint_url=endpoint)
    records = asyncio.run(third_store.load())
    subs = {r.data["name"]: r.data["rating"] for r in records if r.kind == "submission"}
    assert subs == {"before-outage": 1, "during-0": 4, "during-1": 4, "during-2": 4}


def test_s3_put_failure_without_spool_space_is_503(start_gateway, s3, tmp_path) -> None:  # type: ignore[no-untyped-def]
    spool = tmp_path / "spool"
    g = start_gateway(s3_bucket=s3.bucket, spool_dir=spool)
    g.admin("POST", "/api/admin/mode", json={"mode": "survey"})
    shutil.rmtree(spool)
    spool.write_text("a file where the spool directory should be: every spool write fails")
    s3.stop()
    resp = submit(g, "phone-1")
    assert resp.status_code == 503
    assert g.http.get("/api/survey/results").json()["total"] == 0


def s3_keys_or_none(s3: MotoS3) -> list[str] | None:
    try:
        return s3_keys(s3.endpoint, s3.bucket)
    except Exception:
        return None
