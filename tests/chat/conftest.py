"""A customer with an account and a card, and a conversation of theirs."""

from __future__ import annotations

import pytest

from apps.accounts.models import Card
from apps.chat.services import conversation_create
from tests.factories import account_make, customer_make


@pytest.fixture
def casey(db):
    customer = customer_make(username="casey", first_name="Casey", last_name="Jones")
    account = account_make(customer, balance="1250.00")
    Card.objects.create(
        customer=customer, account=account, last4="4242", expiry_month=9, expiry_year=2030
    )
    return customer


@pytest.fixture
def conversation(casey):
    return conversation_create(customer=casey)
