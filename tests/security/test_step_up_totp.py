"""Money moves are confirmed with a current authenticator code once a customer has one.

The assistant's transfers (step-up) and the portal's first payment to someone new ask for
the code from the customer's authenticator; the password is not enough, since whoever
learned it could otherwise move money. A customer without an authenticator confirms the
assistant's transfers with their password, as before.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.models import Account, Payment
from apps.accounts.services.payees import payee_create
from apps.chat.actions import action_propose
from apps.chat.models import ActionProposal, Conversation, Message
from apps.compliance.models import SecurityEvent
from tests.factories import account_make, customer_make
from tests.helpers import PASSWORD, totp_code

OTHER_BANK_IBAN = "DE89370400440532013000"
SAVED_PAYEE_IBAN = "GB29NWBK60161331926819"


@pytest.fixture
def person(db):
    customer = customer_make(username="paula", first_name="Paula")
    checking = account_make(customer, balance="500.00", name="Current")
    savings = account_make(customer, type=Account.Type.SAVINGS, name="Savings")
    return customer, checking, savings


def _proposal(customer, checking, savings) -> ActionProposal:
    conversation = Conversation.objects.create(customer=customer)
    message = Message.objects.create(
        conversation=conversation, role=Message.Role.ASSISTANT, status=Message.Status.COMPLETE
    )
    payload = {"from_account_id": checking.pk, "to_account_id": savings.pk, "amount": "50.00"}
    return action_propose(
        conversation=conversation, message=message, kind="transfer", payload=payload
    )


def _confirm(client, user, proposal, step_up):
    url = f"/api/v1/conversations/{proposal.conversation_id}/actions/{proposal.pk}/confirm"
    return client.post(
        url,
        {"step_up": step_up},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}",
    )


def test_the_assistant_refuses_the_password_once_the_customer_has_an_authenticator(client, person):
    customer, checking, savings = person
    device = TOTPDevice.objects.create(user=customer.user, name="phone", confirmed=True)
    proposal = _proposal(customer, checking, savings)

    refused = _confirm(client, customer.user, proposal, PASSWORD)
    assert refused.status_code == 400
    body = refused.json()
    assert body["code"] == "step_up_code_required"
    assert "6-digit code from your authenticator app" in body["fields"]["step_up"][0]
    assert not Payment.objects.exists()
    proposal.refresh_from_db()
    assert proposal.status == ActionProposal.Status.PROPOSED

    asked = _confirm(client, customer.user, proposal, "")
    assert asked.json()["fields"]["step_up"] == [
        "Confirm it is you: enter the 6-digit code from your authenticator app."
    ]

    done = _confirm(client, customer.user, proposal, totp_code(device))
    assert done.status_code == 200
    assert done.json()["actions"][0]["status"] == "executed"
    assert Payment.objects.get().status == Payment.Status.COMPLETED


def test_a_customer_without_an_authenticator_is_asked_for_the_password(client, person):
    customer, checking, savings = person
    proposal = _proposal(customer, checking, savings)

    asked = _confirm(client, customer.user, proposal, "")
    assert asked.status_code == 400
    assert asked.json()["fields"]["step_up"] == ["Confirm it is you: enter your password."]
    wrong = _confirm(client, customer.user, proposal, "not my password")
    assert wrong.json()["fields"]["step_up"] == ["That password is not right. Nothing was sent."]
    assert not Payment.objects.exists()

    done = _confirm(client, customer.user, proposal, PASSWORD)
    assert done.status_code == 200
    assert Payment.objects.count() == 1


# --- The portal: a first payment to someone new ------------------------------------------


def _signed_in_with_code(client, user) -> TOTPDevice:
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    # The previous step's code: the current one stays unused for the payment below
    # (a code is accepted once).
    response = client.post("/login/verify/", {"token": totp_code(device, offset=-1)})
    assert response.status_code == 302
    return device


def _review(client, checking, **to) -> str:
    data = {"from_account": checking.pk, "amount": "20.00", "reference": "Hello", **to}
    response = client.post("/transfers/new/", data)
    assert response.status_code == 302, response.content
    return parse_qs(urlparse(response["Location"]).query)["token"][0]


def test_a_first_payment_to_a_new_iban_needs_the_code(client, person):
    customer, checking, savings = person
    device = _signed_in_with_code(client, customer.user)
    new_iban = {"destination": "iban", "to_iban": OTHER_BANK_IBAN, "to_name": "Hans"}
    token = _review(client, checking, **new_iban)

    page = client.get("/transfers/confirm/", {"token": token})
    assert page.status_code == 200
    assert 'name="step_up-token"' in page.text
    assert "enter the code from your authenticator app" in page.text

    missing = client.post("/transfers/confirm/", {"token": token})
    assert missing.status_code == 400
    assert 'id="id_step_up-token_error"' in missing.text  # beside the field
    assert not Payment.objects.exists()

    paid = client.post("/transfers/confirm/", {"token": token, "step_up-token": totp_code(device)})
    assert paid.status_code == 302
    payment = Payment.objects.get()
    assert paid["Location"] == f"/payments/{payment.pk}/"
    assert payment.to_iban == OTHER_BANK_IBAN

    # Paid once, the recipient is no longer new; own accounts never need the code.
    again = _review(client, checking, **new_iban)
    assert 'name="step_up-token"' not in client.get("/transfers/confirm/", {"token": again}).text
    assert client.post("/transfers/confirm/", {"token": again}).status_code == 302
    own = _review(client, checking, destination="own", to_account=savings.pk)
    assert client.post("/transfers/confirm/", {"token": own}).status_code == 302
    assert Payment.objects.count() == 3


def test_a_wrong_code_pays_nothing_and_a_saved_payee_never_paid_is_new(client, person):
    customer, checking, _savings = person
    device = _signed_in_with_code(client, customer.user)
    payee = payee_create(customer=customer, name="Landlord", iban=SAVED_PAYEE_IBAN)
    token = _review(client, checking, destination="payee", payee=payee.pk)
    assert 'name="step_up-token"' in client.get("/transfers/confirm/", {"token": token}).text

    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    response = client.post("/transfers/confirm/", {"token": token, "step_up-token": wrong})
    assert response.status_code == 400
    assert "That code is not valid" in response.text
    assert not Payment.objects.exists()
    assert SecurityEvent.objects.filter(kind="mfa_failed", username=customer.user.username).exists()
