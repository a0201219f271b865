"""moto's S3 server in a child process (delta-rs' history() holds the GIL during I/O, so an in-thread
server would deadlock), on a free localhost port."""

from __future__ import annotations

import multiprocessing
import socket
import time


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
