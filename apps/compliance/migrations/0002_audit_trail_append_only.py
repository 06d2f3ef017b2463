"""The audit trail is append-only: PostgreSQL rejects UPDATE and DELETE on it.

TRUNCATE is left to the database owner (the test runner empties tables with it); in
production the application's role should not own these tables nor hold TRUNCATE.
"""

from django.db import migrations

APPEND_ONLY_TABLES = ["auditlog_logentry", "compliance_securityevent"]

FUNCTION = """
CREATE OR REPLACE FUNCTION banksight_reject_audit_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""


def _create(table: str) -> str:
    return (
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION banksight_reject_audit_change();"
    )


def _drop(table: str) -> str:
    return f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};"


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0001_initial"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION IF EXISTS banksight_reject_audit_change();"),
        *[migrations.RunSQL(_create(table), _drop(table)) for table in APPEND_ONLY_TABLES],
    ]
