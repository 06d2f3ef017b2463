"""A customer only ever sees or acts on their own objects.

Walks every customer-facing URL pattern (portal and API) that takes an object id, and
tries each with another customer's object: every method answers 404 (or 405 for a method
the route does not have), and the other customer's data is unchanged.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from apps.accounts.models import Account, Card, LoanPrequalification, Payee, Payment, StandingOrder
from apps.accounts.services.loans import loan_prequalify
from apps.accounts.services.payees import payee_create
from apps.accounts.services.payments import payment_create
from apps.accounts.services.standing_orders import standing_order_create
from apps.chat.models import ActionProposal, Conversation, Message
from tests.factories import account_make, customer_make
from tests.helpers import PASSWORD

# The path segment before an id says what the id is.
SEGMENT_MODELS = {
    "accounts": Account,
    "payments": Payment,
    "payees": Payee,
    "cards": Card,
    "prequalifications": LoanPrequalification,
    "standing-orders": StandingOrder,
}
# Routes under a conversation name their ids; the object is the parameter's.
PARAMETER_MODELS = {
    "conversation_id": Conversation,
    "message_id": Message,
    "action_id": ActionProposal,
}
NOT_CUSTOMER_FACING = ("staff/", "admin/", "api/schema", "api/docs")
ID_CONVERTER = re.compile(r"<(?:int|uuid):(\w+)>")


def _routes(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route


def id_routes() -> list[str]:
    routes = [r for r in _routes(get_resolver().url_patterns) if ID_CONVERTER.search(r)]
    return sorted(r for r in routes if not r.startswith(NOT_CUSTOMER_FACING))


ROUTES = id_routes()


def _model_for(route: str):
    """The model of the route's last id: the object whose owner decides."""
    last = list(ID_CONVERTER.finditer(route))[-1]
    if last.group(1) in PARAMETER_MODELS:
        return PARAMETER_MODELS[last.group(1)]
    before = route[: last.start()].strip("/").split("/")[-1]
    return SEGMENT_MODELS.get(before)


def test_every_route_with_an_id_is_known_here():
    assert len(ROUTES) >= 15, ROUTES
    unknown = [route for route in ROUTES if _model_for(route) is None]
    assert unknown == [], "add these routes' objects to SEGMENT_MODELS"


@pytest.fixture
def victim(db):
    customer = customer_make(username="victim")
    checking = account_make(customer, balance="900.00")
    savings = account_make(customer, type=Account.Type.SAVINGS)
    payment, _ = payment_create(
        customer=customer,
        actor=customer.user,
        from_account_id=checking.pk,
        amount="5.00",
        currency="GBP",
        idempotency_key="victim-1",
        to_account_id=savings.pk,
    )
    payee = payee_create(customer=customer, name="Landlord", iban="GB29NWBK60161331926819")
    card = Card.objects.create(
        customer=customer, account=checking, last4="4242", expiry_month=1, expiry_year=2030
    )
    order = standing_order_create(
        customer=customer,
        from_account_id=checking.pk,
        payee_id=payee.pk,
        amount="10.00",
        frequency="monthly",
        first_run_on=timezone.localdate() + timezone.timedelta(days=3),
    )
    prequalification = loan_prequalify(customer=customer, stated_annual_income="30000")
    conversation = Conversation.objects.create(customer=customer, title="Card question")
    question = Message.objects.create(
        conversation=conversation, role="customer", status="received", client_id="q1"
    )
    answer = Message.objects.create(
        conversation=conversation, role="assistant", status="complete", reply_to=question
    )
    proposal = ActionProposal.objects.create(
        conversation=conversation, message=answer, kind="freeze_card", payload={"card_id": card.pk}
    )
    return {
        Conversation: conversation,
        Message: answer,
        ActionProposal: proposal,
        Account: checking,
        Payment: payment,
        Payee: payee,
        Card: card,
        StandingOrder: order,
        LoanPrequalification: prequalification,
    }


@pytest.fixture
def attacker(db):
    customer = customer_make(username="attacker")
    account_make(customer, balance="50.00")
    return customer


def _state(victim):
    return (
        Account.objects.get(pk=victim[Account].pk).balance_minor,
        Card.objects.get(pk=victim[Card].pk).status,
        Payee.objects.filter(pk=victim[Payee].pk).exists(),
        StandingOrder.objects.get(pk=victim[StandingOrder].pk).active,
        Payment.objects.count(),
        Message.objects.count(),
        ActionProposal.objects.get(pk=victim[ActionProposal].pk).status,
        Conversation.objects.get(pk=victim[Conversation].pk).status,
    )


def _path(route: str, victim: dict) -> str:
    def object_id(match) -> str:
        model = PARAMETER_MODELS.get(match.group(1)) or _model_for(route)
        return str(victim[model].pk)

    return "/" + ID_CONVERTER.sub(object_id, route)


def test_another_customers_ids_answer_404_everywhere(client, victim, attacker):
    client.force_login(attacker.user)
    token = client.post(
        "/api/v1/auth/token/",
        {"username": "attacker", "password": PASSWORD},
        content_type="application/json",
    ).json()["access"]
    before = _state(victim)
    for route in ROUTES:
        path = _path(route, victim)
        extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if route.startswith("api/") else {}
        statuses = {}
        for method in ("get", "post", "put", "patch", "delete"):
            response = getattr(client, method)(path, content_type="application/json", **extra)
            statuses[method] = response.status_code
            assert response.status_code in (404, 405), f"{method.upper()} {path}: {statuses}"
        assert 404 in statuses.values(), f"{path} never looked the object up: {statuses}"
    assert _state(victim) == before


def test_the_owner_reaches_the_same_routes(client, victim):
    owner = victim[Account].customer.user
    client.force_login(owner)
    token = client.post(
        "/api/v1/auth/token/",
        {"username": owner.username, "password": PASSWORD},
        content_type="application/json",
    ).json()["access"]
    for route in ROUTES:
        path = _path(route, victim)
        extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if route.startswith("api/") else {}
        if "statement" in route:
            today = timezone.localdate().isoformat()
            path += f"?date_from={today}&date_to={today}"
        get = client.get(path, **extra)
        if get.status_code == 405:
            continue  # an action route (POST only): its 404 above came from the lookup
        assert get.status_code == 200, f"GET {path}: {get.status_code}"
