"""Talking to the customer's chat websocket from a test, as the mobile app does."""

from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.models import Card, Customer
from apps.accounts.services.ledger import bank_iban
from banksight.asgi import application
from tests.factories import account_make, customer_make

# For tests of the plumbing (streaming, resume, handoff), not of the wording: a help-article
# question's prompt carries no per-run data (account ids and numbers), so the model's greedy
# answer is the same every run. Asked about the balance, the 135M model sometimes invented
# a helpline number, rightly refused by the output guard as foreign PII (about 3% of runs).
STATEMENT_QUESTION = "How do I get a statement?"


# Casey's account number: fixed, so that what the model is given about Casey does not
# change from run to run (account_open draws a random one).
CASEY_ACCOUNT_NUMBER = "40400042"


def casey_make() -> Customer:
    """Casey Jones: a customer with a current account (a fixed number) and a card."""
    customer = customer_make(username="casey", first_name="Casey", last_name="Jones")
    account = account_make(customer, balance="1250.00")
    account.number, account.iban = CASEY_ACCOUNT_NUMBER, bank_iban(CASEY_ACCOUNT_NUMBER)
    account.save(update_fields=["number", "iban"])
    Card.objects.create(
        customer=customer, account=account, last4="4242", expiry_month=9, expiry_year=2030
    )
    return customer


def chat_socket(user, conversation_id, *, query: str = "") -> WebsocketCommunicator:
    token = str(AccessToken.for_user(user))
    return WebsocketCommunicator(
        application,
        f"/ws/chat/{conversation_id}/{query}",
        headers=[(b"authorization", f"Bearer {token}".encode())],
    )


async def events_until(socket, predicate, *, timeout: float = 90) -> list[dict]:
    """Receive events until one satisfies `predicate`; return them all."""
    seen = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        event = await socket.receive_json_from(timeout=max(0.1, deadline - loop.time()))
        seen.append(event)
        if predicate(event):
            return seen


def is_answer_final(event) -> bool:
    return (
        event["type"] == "message"
        and event["message"]["role"] == "assistant"
        and event["message"]["status"] not in ("pending", "streaming")
    )


def run(scenario):
    """Run an async scenario in a new event loop, with a channel layer made for it (the
    Redis layer's locks belong to the loop that created them)."""
    channel_layers.backends.clear()
    return async_to_sync(scenario)()
