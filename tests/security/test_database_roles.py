"""The application's database role cannot erase or rewrite the audit trail.

The tests connect as the application's role (DATABASE_URL), as web and worker do, to the
real test database, which the owner role (DATABASE_OWNER_URL) created and migrated.
"""

from __future__ import annotations

import psycopg
import pytest
from auditlog.models import LogEntry
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test import override_settings

from apps.compliance.models import SecurityEvent
from apps.compliance.privileges import APPEND_ONLY_TABLES
from apps.compliance.services import security_event_record

AUDIT_TABLES = ["auditlog_logentry", "compliance_securityevent"]


def _one(query: str, params: list | None = None):
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()


def _count(table: str) -> int:
    return _one(f"SELECT count(*) FROM {table}")[0]  # noqa: S608 - our table names


def _refused(statement: str) -> str:
    """Run `statement` as the application's role; return PostgreSQL's refusal."""
    with pytest.raises(DatabaseError) as refusal, transaction.atomic():
        _one(statement)
    return str(refusal.value)


@pytest.fixture
def audit_rows(customer):
    """The audit tables hold rows: the customer's creation and a security event."""
    security_event_record(kind=SecurityEvent.Kind.MFA_FAILED, username=customer.username)
    assert LogEntry.objects.get_for_object(customer).exists()
    return {table: _count(table) for table in APPEND_ONLY_TABLES}


def test_the_tests_connect_as_the_application_role(db):
    user, superuser, createdb, createrole, bypassrls = _one(
        "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls "
        "FROM pg_roles WHERE rolname = current_user"
    )
    assert user == settings.DATABASE_APP_ROLE == settings.DATABASES["default"]["USER"]
    assert (superuser, createdb, createrole, bypassrls) == (False, False, False, False)
    assert user != settings.DATABASE_OWNER["USER"]


def test_the_application_role_owns_nothing_and_is_no_member_of_the_owner(db):
    owned = _one(
        "SELECT count(*) FROM pg_class WHERE relowner = current_user::regrole "
        "AND relnamespace = 'public'::regnamespace"
    )[0]
    assert owned == 0
    table_owner, member, database_owner = _one(
        "SELECT tableowner, pg_has_role(current_user, tableowner, 'MEMBER'), "
        "pg_get_userbyid((SELECT datdba FROM pg_database WHERE datname = current_database())) "
        "FROM pg_tables WHERE tablename = 'auditlog_logentry'"
    )
    assert table_owner == database_owner == settings.DATABASE_OWNER["USER"]
    assert member is False
    assert "permission denied for schema public" in _refused("CREATE TABLE forged (id int)")


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_the_application_role_cannot_erase_or_change_an_append_only_table(audit_rows, table):
    assert f"permission denied for table {table}" in _refused(f"TRUNCATE {table} CASCADE")
    # Refused by privilege, before the append-only trigger (which an owner could disable).
    assert f"permission denied for table {table}" in _refused(f"DELETE FROM {table}")  # noqa: S608
    assert f"permission denied for table {table}" in _refused(
        f"UPDATE {table} SET id = id"  # noqa: S608
    )
    assert f"must be owner of table {table}" in _refused(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
    assert f"must be owner of table {table}" in _refused(f"DROP TABLE {table}")
    assert _count(table) == audit_rows[table]


def test_the_application_role_cannot_switch_triggers_off(db):
    refusal = _refused("SET session_replication_role = replica")
    assert 'permission denied to set parameter "session_replication_role"' in refusal
    assert _one("SHOW session_replication_role")[0] == "origin"


@pytest.mark.parametrize("table", AUDIT_TABLES)
def test_the_application_role_adds_to_and_reads_the_audit_trail(audit_rows, customer, table):
    assert _one("SELECT current_user")[0] == settings.DATABASE_APP_ROLE
    security_event_record(kind=SecurityEvent.Kind.MFA_FAILED, username=customer.username)
    customer.first_name = "Changed"
    customer.save()  # audited too
    assert _count(table) > audit_rows[table]


def test_the_owner_is_still_stopped_by_the_append_only_trigger(transactional_db, customer):
    """The owner could disable the trigger on purpose, but no migration or tool run as the
    owner changes the trail by accident. The test database is emptied afterwards by `flush`,
    as the owner: the application's role could not TRUNCATE it."""
    entry = LogEntry.objects.get_for_object(customer).get()
    database = connection.settings_dict["NAME"]
    owner = settings.DATABASE_OWNER
    with psycopg.connect(
        host=owner["HOST"],
        port=owner["PORT"],
        user=owner["USER"],
        password=owner["PASSWORD"],
        dbname=database,
        autocommit=True,
    ) as as_owner:
        assert as_owner.execute("SELECT current_user").fetchone()[0] == owner["USER"]
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            as_owner.execute(
                "UPDATE auditlog_logentry SET object_repr = 'forged' WHERE id = %s", [entry.id]
            )
    entry.refresh_from_db()
    assert entry.object_repr != "forged"


def test_production_refuses_to_migrate_without_the_owner_role(db):
    """Migrating as DATABASE_URL's role would make the application the tables' owner."""
    with (
        override_settings(PRODUCTION=True, DATABASE_OWNER={}),
        pytest.raises(CommandError, match="DATABASE_OWNER_URL is required"),
    ):
        call_command("migrate", "--noinput", verbosity=0)
