"""Ledger invariants PostgreSQL holds itself, whatever code writes the rows.

- Every journal entry balances per currency: a constraint trigger, deferred to commit so
  an entry's postings can be inserted one by one.
- A posting's currency is its account's currency.
- Journal entries and postings are append-only (the audit trail's trigger function).
"""

from django.db import migrations

BALANCED = """
CREATE OR REPLACE FUNCTION banksight_check_posting() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    unbalanced record;
BEGIN
    IF EXISTS (
        SELECT 1 FROM accounts_account a WHERE a.id = NEW.account_id AND a.currency <> NEW.currency
    ) THEN
        RAISE EXCEPTION 'posting % is in %, its account is not', NEW.id, NEW.currency
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT currency, SUM(amount_minor) AS total INTO unbalanced
      FROM accounts_posting WHERE entry_id = NEW.entry_id
     GROUP BY currency HAVING SUM(amount_minor) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance in %: off by %',
            NEW.entry_id, unbalanced.currency, unbalanced.total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER accounts_posting_balanced
    AFTER INSERT ON accounts_posting DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION banksight_check_posting();
"""

UNBALANCED = """
DROP TRIGGER IF EXISTS accounts_posting_balanced ON accounts_posting;
DROP FUNCTION IF EXISTS banksight_check_posting();
"""

APPEND_ONLY_TABLES = ["accounts_journalentry", "accounts_posting"]

# One message for every append-only table (the audit trail's migration named only itself).
REJECT_CHANGE = """
CREATE OR REPLACE FUNCTION banksight_reject_audit_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_banking"),
        ("compliance", "0002_audit_trail_append_only"),
    ]

    operations = [
        migrations.RunSQL(REJECT_CHANGE, migrations.RunSQL.noop),
        migrations.RunSQL(BALANCED, UNBALANCED),
        *[
            migrations.RunSQL(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION banksight_reject_audit_change();",
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};",
            )
            for table in APPEND_ONLY_TABLES
        ],
    ]
