"""Back-office fixtures: verified staff clients per role, and one customer with real PII."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.models import Card
from apps.accounts.roles import Role
from apps.chat.models import Conversation, InternalNote, Message
from tests.factories import account_make, customer_make, ledger_book

SSN = "078-05-1120"
NATIONAL_ID = "QQ123456C"
PHONE = "+44 7700 900123"
EMAIL = "alice.andersen@example.com"
ADDRESS_LINE = "14 Wharf Road"


def verified(client: Client, user) -> Client:
    """A session past the second factor, as after the staff sign-in (the flow itself is
    covered in tests/accounts)."""
    device = TOTPDevice.objects.create(user=user, name="test", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


@pytest.fixture
def staff_client(make_user):
    """staff_client(Role.KYC_OFFICER) -> (client, user), each with its own session."""

    def make(role: Role, **extra):
        user = make_user(role, **extra)
        return verified(Client(), user), user

    return make


@pytest.fixture
def alice(make_user):
    user = make_user(Role.CUSTOMER, username="alice", first_name="Alice", last_name="Andersen")
    customer = customer_make(
        user,
        email=EMAIL,
        date_of_birth=date(1988, 4, 12),
        address_line=ADDRESS_LINE,
        city="London",
        postcode="N1 7GR",
        ssn=SSN,
        national_id=NATIONAL_ID,
        phone=PHONE,
    )
    account = account_make(customer, balance="1250.00")
    ledger_book(account, -4_250, "Tesco", counterparty="Tesco")
    Card.objects.create(
        customer=customer, account=account, last4="4242", expiry_month=9, expiry_year=2030
    )
    return customer


@pytest.fixture
def conversation(alice, make_user):
    agent = make_user(Role.SUPPORT_AGENT, username="amira", first_name="Amira")
    conversation = Conversation.objects.create(
        customer=alice,
        title="Phone number change",
        status=Conversation.Status.WITH_AGENT,
        priority=Conversation.Priority.NORMAL,
        assigned_agent=agent,
    )
    for role, masked, clear in [
        (
            Message.Role.CUSTOMER,
            "Please change my phone, the old one is [PHONE_NUMBER_1]",
            f"Please change my phone, the old one is {PHONE}",
        ),
        (
            Message.Role.ASSISTANT,
            "I can't change [PHONE_NUMBER_1] here; let me get a person.",
            f"I can't change {PHONE} here; let me get a person.",
        ),
        (
            Message.Role.AGENT,
            "Hi, I can help with [PHONE_NUMBER_1].",
            f"Hi, I can help with {PHONE}.",
        ),
    ]:
        message = Message(
            conversation=conversation,
            role=role,
            status=Message.Status.COMPLETE,
            masked_text=masked,
            author=agent if role == Message.Role.AGENT else None,
        )
        message.text = clear
        message.save()
    InternalNote.objects.create(
        conversation=conversation, author=agent, text="Verified by security questions."
    )
    return conversation
