"""moto's S3 server in a child process (delta-rs' history() holds the GIL during I/O, so an in-thread
server would deadlock), on a free localhost port."""

from __future__ import annotations

import contextlib
import multiprocessing
import socket
import time
from collections.abc import Iterator

from lake import Lake


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int) -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    while True:
        time.sleep(3600)


def start(timeout: float = 20.0) -> tuple[multiprocessing.process.BaseProcess, int]:
    """Start the server and wait until it accepts connections; raises RuntimeError when it cannot."""
    port = free_port()
    proc = multiprocessing.get_context("spawn").Process(target=_serve, args=(port,), daemon=True)
    proc.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.is_alive():
            raise RuntimeError(f"moto server exited with code {proc.exitcode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError(f"moto server did not answer on port {port} within {timeout} s")


@contextlib.contextmanager
def moto_lake(bucket: str, prefix: str = "hub") -> Iterator[Lake]:
    """A `Lake` at s3://<bucket>/<prefix> on a fresh moto server (bucket made with the minio SDK)."""
    from minio import Minio

    proc, port = start()
    try:
        Minio(f"127.0.0.1:{port}", access_key="govhub-test", secret_key="govhub-test-secret", secure=False).make_bucket(
            bucket
        )
        yield Lake(
            f"s3://{bucket}/{prefix}",
            storage_options={
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                "AWS_ACCESS_KEY_ID": "govhub-test",
                "AWS_SECRET_ACCESS_KEY": "govhub-test-secret",
                "AWS_REGION": "us-east-1",
                "AWS_ALLOW_HTTP": "true",
            },
        )
    finally:
        proc.terminate()
        proc.join(5)
