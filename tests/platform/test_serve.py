"""banksight.serve: uvicorn processes on one port, each on its own SO_REUSEPORT socket."""

from __future__ import annotations

import http.client
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from tests.conftest import BASE_DIR, WorkerProcess
from tests.helpers import process_stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _established(process: psutil.Process, port: int) -> int:
    return sum(
        1
        for c in process.net_connections(kind="tcp")
        if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port
    )


def _healthy(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False


def test_two_processes_share_the_port_and_the_connections():
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "banksight.serve", "--port", str(port), "--workers", "2"],
        cwd=BASE_DIR,
        env=WorkerProcess().env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _healthy(port), seconds=60)

        def listening():
            # Each process opens its socket when it has started: one may answer before the
            # other listens (this was checked too early on a busy machine).
            return [
                child
                for child in psutil.Process(server.pid).children()
                if any(
                    s.status == psutil.CONN_LISTEN and s.laddr.port == port
                    for s in child.net_connections(kind="tcp")
                )
            ]

        wait_for(lambda: len(listening()) == 2, seconds=60)
        processes = listening()
        assert len(processes) == 2

        # 16 keep-alive connections, each answered: the kernel spreads them over both.
        connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(16)]
        for connection in connections:
            connection.request("GET", "/healthz")
            assert connection.getresponse().read() is not None
        held = [_established(process, port) for process in processes]
        assert sum(held) == 16
        assert min(held) > 0
        for connection in connections:
            connection.close()

        server.send_signal(signal.SIGTERM)  # stops every process
        assert server.wait(timeout=30) == 0
        time.sleep(0.2)
        assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in processes)
    finally:
        process_stop(server)
