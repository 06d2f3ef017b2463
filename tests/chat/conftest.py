"""A customer with an account and a card, and a conversation of theirs."""

from __future__ import annotations

import pytest

from apps.chat.services import conversation_create
from tests.chat.sockets import casey_make


@pytest.fixture
def casey(db):
    return casey_make()


@pytest.fixture
def conversation(casey):
    return conversation_create(customer=casey)
