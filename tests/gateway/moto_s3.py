"""moto in server mode as the gateway tests' S3: a real S3-speaking HTTP server on loopback.

tests/gateway/conftest.py's ``s3`` fixture runs one per test (the survey store's and the compile
cache's tests)."""

from __future__ import annotations

import uuid

import boto3
from moto.server import ThreadedMotoServer


class MotoS3:
    """moto in server mode on a loopback port: a real S3-speaking HTTP server.

    stop()/start() take S3 away and bring it back on the same port with the same data
    (moto keeps its state in this process), which is what an outage looks like to a client.
    """

    def __init__(self) -> None:
        self.port = 0
        self.server: ThreadedMotoServer | None = None
        self.start()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.bucket = f"tubedemo-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=self.endpoint).create_bucket(Bucket=self.bucket)

    def start(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.port = self.server.get_host_and_port()[1]

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
