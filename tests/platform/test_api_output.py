"""banksight.api.output: a reused output serializer gives what a new one's .data gives."""

from __future__ import annotations

import pytest

from apps.accounts.banking_api.common import AccountOutputSerializer, PaymentOutputSerializer
from apps.accounts.models import Account
from banksight.api.output import output_data, output_list, output_serializer
from tests.factories import account_make, customer_make

pytestmark = pytest.mark.django_db


def test_the_output_is_the_serializers_own():
    customer = customer_make(username="output_casey")
    accounts = [
        account_make(customer, balance="12.30"),
        account_make(customer, currency="JPY", type=Account.Type.SAVINGS, balance="500"),
    ]
    assert output_list(AccountOutputSerializer, accounts) == list(
        AccountOutputSerializer(accounts, many=True).data
    )
    assert output_data(AccountOutputSerializer, accounts[1]) == dict(
        AccountOutputSerializer(accounts[1]).data
    )
    assert output_data(AccountOutputSerializer, accounts[1])["balance"] == "500"


def test_one_instance_per_serializer_class():
    assert output_serializer(AccountOutputSerializer) is output_serializer(AccountOutputSerializer)
    assert output_serializer(PaymentOutputSerializer) is not output_serializer(
        AccountOutputSerializer
    )
