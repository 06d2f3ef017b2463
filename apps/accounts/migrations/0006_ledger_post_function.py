"""Posting a journal entry in one round trip (apps/accounts/services/ledger.py).

banksight_post_entry() inserts the entry and its postings, then moves the cached balances
one account at a time in id order, so two entries on the same accounts always lock them
in the same order and never deadlock. An account that is not open, when the caller asks
for open accounts, raises SQLSTATE BSA01; a balance past the account's limit fails the
account_within_limit CHECK as before. The constraint trigger from 0003 still checks at
commit that the entry balances.
"""

from django.db import migrations

POST_ENTRY = """
CREATE OR REPLACE FUNCTION banksight_post_entry(
    p_kind text,
    p_description text,
    p_booked_at timestamptz,
    p_payment_id bigint,
    p_actor_id bigint,
    p_account_ids bigint[],
    p_amounts bigint[],
    p_currencies text[],
    p_descriptions text[],
    p_counterparties text[],
    p_require_open boolean
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    v_entry_id bigint;
    v_move record;
BEGIN
    INSERT INTO accounts_journalentry (kind, description, booked_at, payment_id, created_by_id,
                                       created_at)
    VALUES (p_kind, p_description, p_booked_at, p_payment_id, p_actor_id, clock_timestamp())
    RETURNING id INTO v_entry_id;

    INSERT INTO accounts_posting (entry_id, account_id, amount_minor, currency, booked_at,
                                  description, counterparty)
    SELECT v_entry_id, leg.account_id, leg.amount_minor, leg.currency, p_booked_at,
           leg.description, leg.counterparty
      FROM unnest(p_account_ids, p_amounts, p_currencies, p_descriptions, p_counterparties)
           AS leg(account_id, amount_minor, currency, description, counterparty);

    FOR v_move IN
        SELECT leg.account_id, sum(leg.amount_minor) AS delta
          FROM unnest(p_account_ids, p_amounts) AS leg(account_id, amount_minor)
         GROUP BY leg.account_id
         ORDER BY leg.account_id
    LOOP
        UPDATE accounts_account
           SET balance_minor = balance_minor + v_move.delta
         WHERE id = v_move.account_id
           AND (NOT p_require_open OR status = 'open');
        IF NOT FOUND THEN
            RAISE EXCEPTION 'account % is not open', v_move.account_id USING ERRCODE = 'BSA01';
        END IF;
    END LOOP;
    RETURN v_entry_id;
END;
$$;
"""

DROP_POST_ENTRY = """
DROP FUNCTION IF EXISTS banksight_post_entry(
    text, text, timestamptz, bigint, bigint, bigint[], bigint[], text[], text[], text[], boolean
);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_customer_vulnerable"),
    ]

    operations = [migrations.RunSQL(POST_ENTRY, DROP_POST_ENTRY)]
