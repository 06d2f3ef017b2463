"""Which PostgreSQL role a connection logs in as: the application's or the schema owner's.

DATABASE_URL is the application's role (web, worker, beat and the tests): no superuser, owns
nothing, and has only SELECT and INSERT on the append-only tables (granted by the owner after
every migrate: apps/compliance/privileges.py). DATABASE_OWNER_URL is the role that owns the
schema. Work that needs the owner runs inside `connect_as_owner()`: `manage.py migrate` and
`manage.py flush` (apps/compliance/management/commands/), and in tests the creation,
migration and removal of the test database (tests/conftest.py). pytest-django's
transactional tests empty every table with `flush` between tests, with TRUNCATE, which the
application's role may not do to the audit trail.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections


@contextlib.contextmanager
def connect_as(credentials: dict, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Connections of `using` opened inside the block log in with `credentials`
    (USER, PASSWORD, HOST, PORT); those of before the block afterwards.

    The alias's connection and its pool (which keeps the credentials it opened with) are
    closed on the way in and on the way out. Meant for a process doing schema work (a
    command, a test session's set-up), not while requests are being served.
    """
    connection = connections[using]
    current = {key: connection.settings_dict[key] for key in credentials}
    if not credentials or credentials == current:
        yield
        return
    _reconnect(using, credentials)
    try:
        yield
    finally:
        _reconnect(using, current)


def connect_as_owner(using: str = DEFAULT_DB_ALIAS) -> contextlib.AbstractContextManager:
    """As the schema owner (DATABASE_OWNER_URL); unchanged where none is configured."""
    return connect_as(settings.DATABASE_OWNER if using == DEFAULT_DB_ALIAS else {}, using)


def connect_as_app(using: str = DEFAULT_DB_ALIAS) -> contextlib.AbstractContextManager:
    """As the application's role (DATABASE_URL)."""
    return connect_as(settings.DATABASE_APP if using == DEFAULT_DB_ALIAS else {}, using)


def _reconnect(using: str, credentials: dict) -> None:
    connection = connections[using]
    connection.close()
    connection.close_pool()
    connection.settings_dict.update(credentials)
    settings.DATABASES[using].update(credentials)  # the same dict, unless overridden
