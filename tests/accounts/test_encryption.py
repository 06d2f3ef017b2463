"""Personal data is encrypted at rest, found by keyed hash, and re-encrypted on key rotation."""

from __future__ import annotations

import base64
import secrets
from io import StringIO

import pytest
from cryptography.exceptions import InvalidTag
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from apps.accounts.crypto import blind_index, decrypt, key_id_of
from apps.accounts.models import Customer
from tests.factories import customer_make


def _raw(customer, column):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM accounts_customer WHERE id = %s", [customer.pk])  # noqa: S608
        return cursor.fetchone()[0]


@pytest.fixture
def alice(db):
    return customer_make(
        username="alice_e", ssn="078-05-1120", national_id="QQ123456C", phone="+44 7700 900123"
    )


def test_the_database_holds_ciphertext_not_the_values(alice):
    for column, plain in [
        ("ssn_ciphertext", "078-05-1120"),
        ("national_id_ciphertext", "QQ123456C"),
        ("phone_ciphertext", "7700 900123"),
    ]:
        stored = _raw(alice, column)
        assert stored.startswith("v1:")
        assert plain not in stored
    fresh = Customer.objects.get(pk=alice.pk)
    assert (fresh.ssn, fresh.national_id, fresh.phone) == (
        "078-05-1120",
        "QQ123456C",
        "+44 7700 900123",
    )


def test_the_same_value_encrypts_differently_each_time(db):
    one = customer_make(username="c1", ssn="078-05-1120")
    two = customer_make(username="c2", ssn="078-05-1120")
    assert _raw(one, "ssn_ciphertext") != _raw(two, "ssn_ciphertext")
    assert _raw(one, "ssn_hash") == _raw(two, "ssn_hash")


def test_lookups_use_the_keyed_hash(alice):
    digest = blind_index("078 05 1120".replace(" ", "-"), context="accounts_customer.ssn")
    assert Customer.objects.get(ssn_hash=digest) == alice
    assert "078" not in digest


def test_a_ciphertext_moved_to_another_column_does_not_decrypt(alice):
    with pytest.raises(InvalidTag):
        decrypt(_raw(alice, "ssn_ciphertext"), context="accounts_customer.phone")


def _new_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def test_rotation_reencrypts_every_value_and_can_run_again(db):
    customers = [
        customer_make(username=f"r{i}", ssn=f"078-05-{1000 + i}", phone="+44 1") for i in range(7)
    ]
    plain = {customer.ssn for customer in customers}
    keys = f"{settings.FIELD_ENCRYPTION_KEYS},k2:{_new_key()}"
    with override_settings(FIELD_ENCRYPTION_KEYS=keys, FIELD_ENCRYPTION_KEY_ID="k2"):
        out = StringIO()
        call_command("rotate_encryption_key", "--batch-size", "3", stdout=out)
        assert "7 customer(s) now use key 'k2'" in out.getvalue()
        for customer in customers:
            assert key_id_of(_raw(customer, "ssn_ciphertext")) == "k2"
            assert key_id_of(_raw(customer, "phone_ciphertext")) == "k2"
            assert Customer.objects.get(pk=customer.pk).ssn == customer.ssn
        out = StringIO()
        call_command("rotate_encryption_key", stdout=out)
        assert "Done: 0 customer(s)" in out.getvalue()
        # Without the old key, only the rotated values remain readable: all of them.
        with override_settings(FIELD_ENCRYPTION_KEYS=keys.split(",")[-1]):
            assert {c.ssn for c in Customer.objects.all()} == plain


def test_an_interrupted_rotation_leaves_every_value_readable(db):
    customers = [customer_make(username=f"i{i}", ssn=f"078-05-{2000 + i}") for i in range(5)]
    keys = f"{settings.FIELD_ENCRYPTION_KEYS},k3:{_new_key()}"
    with override_settings(FIELD_ENCRYPTION_KEYS=keys, FIELD_ENCRYPTION_KEY_ID="k3"):
        from apps.accounts.services.customers import customers_reencrypt_batch

        assert customers_reencrypt_batch(batch_size=2) == 2  # then "interrupted"
        assert sorted(c.ssn for c in Customer.objects.all()) == sorted(c.ssn for c in customers)
        assert customers_reencrypt_batch(batch_size=10) == 3
        assert customers_reencrypt_batch(batch_size=10) == 0
