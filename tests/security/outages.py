"""Stop and start the real test PostgreSQL and Redis of this pytest session.

They come back on the same port, folder and password (banksight.localservices), so every
URL the processes hold stays valid. `services` is None when DATABASE_URL / REDIS_URL were
given: those servers are not ours to stop, and the tests using this skip.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from banksight import localservices
from banksight import settings as project_settings

services = getattr(project_settings, "_services", None)


def pg_stop() -> None:
    localservices._pg_stop(Path(services.pg_data))
    assert not localservices._port_open(services.pg_port)


def pg_start() -> None:
    if not localservices._port_open(services.pg_port):
        localservices._pg_start(
            Path(services.pg_data).parent,
            port=services.pg_port,
            password=urlsplit(services.database_url).password,
            durable=False,
        )


def redis_stop() -> None:
    localservices._redis_stop(Path(services.redis_dir))
    assert not localservices._port_open(services.redis_port)


def redis_start() -> None:
    if not localservices._port_open(services.redis_port):
        localservices._redis_start(
            Path(services.redis_dir).parent,
            port=services.redis_port,
            password=urlsplit(services.redis_url).password,
            durable=False,
        )
    # This test process's pooled broker connections died with the old server. Publishing a
    # task reconnects by itself; a broadcast (the worker fixture's ping) would not. New
    # pools, as after a fork: kombu's global producer pools (keyed by the broker URL, so
    # the app's own pools find them again) and the app's.
    from kombu import pools

    from banksight.celery import app

    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
