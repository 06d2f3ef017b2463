"""Several uvicorn processes on one port, with the kernel spreading connections over them.

    python -m banksight.serve --port 8000 --workers 2 [--host 127.0.0.1] [--log-level info]
                              [--no-access-log]

uvicorn's own `--workers` shares one listening socket among its processes: a new
connection goes to whichever process accepts first, so an idle one can take every
connection of a burst while the other core has none (32 of 32, seen with
bench/bench_accounts_api.py), and a keep-alive connection stays where it landed. Here each
process listens on a socket of its own with SO_REUSEPORT, and the kernel gives each new
connection to one of them by a hash of its addresses: a burst spreads evenly on average,
whichever process happens to be awake.

`make run` serves with one process; a deployment with several cores a machine can run
this, or one single-process container per core behind its load balancer
(docker/compose.yml).
"""

from __future__ import annotations

import argparse
import multiprocessing
import signal
import socket
import sys
import time

APPLICATION = "banksight.asgi:application"


def listening_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _serve_one(host: str, port: int, log_level: str, access_log: bool) -> None:
    import uvicorn

    sock = listening_socket(host, port)
    config = uvicorn.Config(
        APPLICATION,
        log_level=log_level,
        access_log=access_log,
        proxy_headers=True,
        server_header=False,
    )
    uvicorn.Server(config).run(sockets=[sock])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-access-log", action="store_true")
    args = parser.parse_args(argv)

    context = multiprocessing.get_context("spawn")  # no inherited Django state or loop
    processes = [
        context.Process(
            target=_serve_one,
            args=(args.host, args.port, args.log_level, not args.no_access_log),
            name=f"uvicorn-{i}",
        )
        for i in range(args.workers)
    ]
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    for process in processes:
        process.start()
    # Until asked to stop, or until one process ends (then the others are stopped too).
    while not stopping and all(process.is_alive() for process in processes):
        time.sleep(0.2)
    for process in processes:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes open requests, then exits
    for process in processes:
        process.join(timeout=20)
        if process.is_alive():
            process.kill()
            process.join()
    failed = [p.exitcode for p in processes if p.exitcode not in (0, -signal.SIGTERM)]
    return 1 if failed and not stopping else 0


if __name__ == "__main__":
    sys.exit(main())
