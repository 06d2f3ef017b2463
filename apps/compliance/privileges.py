"""What the application's database role may do, granted by the owner after every migrate.

The application (DATABASE_URL) may SELECT, INSERT, UPDATE and DELETE on every table, and
only SELECT and INSERT on the append-only ones below. It owns nothing and is no superuser
(docker/postgres/roles.sql), so TRUNCATE, ALTER TABLE (DISABLE TRIGGER) and
`SET session_replication_role = replica` (which skips triggers) are refused to it as well.
The append-only triggers (compliance 0002, accounts 0003) still stop UPDATE and DELETE
by the owner.

Synced on post_migrate rather than in a migration: the role's name is deployment
configuration (DATABASE_URL's user), and the sync also covers tables that later
migrations add and databases whose app role was configured after they were migrated.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connections, transaction
from psycopg import sql

logger = logging.getLogger(__name__)

# The tables the append-only trigger guards: the audit trail (django-auditlog, security
# events; compliance 0002) and the ledger (accounts 0003).
APPEND_ONLY_TABLES = (
    "auditlog_logentry",
    "compliance_securityevent",
    "accounts_journalentry",
    "accounts_posting",
)

_GRANTS = [
    "GRANT USAGE ON SCHEMA public TO {role}",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
    # Tables and sequences the owner creates later (the next migrations) get the same.
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
    "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {role}",
]


def database_privileges_sync(*, using: str) -> None:
    """Grant the application's role its privileges; run as the owner (`manage.py migrate`).

    Does nothing where one role does everything (no DATABASE_OWNER_URL: development against
    a server of one's own; production refuses to migrate that way).
    """
    role = settings.DATABASE_APP_ROLE
    if not role:
        return
    connection = connections[using]
    with transaction.atomic(using=using), connection.cursor() as cursor:
        raw = connection.connection
        params = {"role": sql.Identifier(role)}
        for statement in _GRANTS:
            cursor.execute(sql.SQL(statement).format(**params).as_string(raw))
        cursor.execute(
            "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NOT NULL",
            [list(APPEND_ONLY_TABLES)],
        )
        tables = [sql.Identifier(name) for (name,) in cursor.fetchall()]
        if tables:
            revoke = sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {tables} FROM {role}, PUBLIC")
            revoke = revoke.format(tables=sql.SQL(", ").join(tables), **params)
            cursor.execute(revoke.as_string(raw))
    logger.debug("database privileges of %s synced", role)
