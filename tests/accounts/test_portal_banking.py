"""The customer portal's banking pages: what a customer sees, and that every write goes
through the services once, for the right customer."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from apps.accounts.models import (
    Account,
    Card,
    JournalEntry,
    LoanPrequalification,
    Payee,
    Payment,
    Posting,
    StandingOrder,
)
from apps.accounts.roles import Role
from apps.accounts.screening import Outcome, ScreeningDecision
from apps.accounts.services.customers import customer_create
from apps.accounts.services.ledger import (
    account_open,
)
from apps.accounts.services.payees import payee_create
from apps.accounts.services.payments import payment_create
from apps.accounts.services.standing_orders import standing_order_create
from tests.factories import ledger_book

EXTERNAL_IBAN = "DE89370400440532013000"


def post_to(account: Account, minor: int, description: str, *, on: datetime | None = None):
    ledger_book(account, minor, description, counterparty="Counterparty Ltd", booked_at=on)


def open_customer(user, first_name: str, last_name: str, *, funded_minor: int = 50_000):
    profile = customer_create(user=user, first_name=first_name, last_name=last_name)
    checking = account_open(
        customer=profile, type=Account.Type.CHECKING, currency="GBP", name="Everyday"
    )
    savings = account_open(
        customer=profile, type=Account.Type.SAVINGS, currency="GBP", name="Rainy day"
    )
    if funded_minor:
        post_to(checking, funded_minor, "Opening balance")
    return SimpleNamespace(user=user, profile=profile, checking=checking, savings=savings)


@pytest.fixture
def banked(customer, client):
    """A signed-in customer with a GBP current account holding 500.00 and empty savings."""
    person = open_customer(customer, "Casey", "Customer")
    client.force_login(customer)
    return person


@pytest.fixture
def stranger(make_user):
    """Another customer, with one of everything the portal shows."""
    person = open_customer(make_user(Role.CUSTOMER), "Sam", "Stranger")
    person.payee = payee_create(customer=person.profile, name="Landlord", iban=EXTERNAL_IBAN)
    person.card = Card.objects.create(
        customer=person.profile, account=person.checking, last4="4242", expiry_month=1,
        expiry_year=2030,
    )  # fmt: skip
    person.payment, _ = payment_create(
        customer=person.profile,
        actor=person.user,
        from_account_id=person.checking.pk,
        to_account_id=person.savings.pk,
        amount="1.00",
        currency="GBP",
        idempotency_key="stranger-1",
    )
    person.order = standing_order_create(
        customer=person.profile,
        from_account_id=person.checking.pk,
        payee_id=person.payee.pk,
        amount="5.00",
        frequency=StandingOrder.Frequency.MONTHLY,
        first_run_on=date(2999, 1, 1),
    )
    person.loan = LoanPrequalification.objects.create(
        customer=person.profile,
        currency="GBP",
        stated_annual_income_minor=1,
        balances_minor=0,
        inflow_90d_minor=0,
        outflow_90d_minor=0,
        eligible=False,
    )
    return person


def ledger_counts() -> tuple[int, int, int]:
    return Payment.objects.count(), Posting.objects.count(), JournalEntry.objects.count()


def balance(account: Account) -> Decimal:
    account.refresh_from_db()
    return account.balance


def missing(html: str, *parts: str) -> list[str]:
    """The parts a page lacks: `assert not missing(...)` names them when it fails."""
    return [part for part in parts if part not in html]


def field_error(response, field: str) -> str:
    """The errors Django rendered beside one form field."""
    form = response.context["form"]
    return " ".join(form[field].errors)


# --- Overview ------------------------------------------------------------------------


def test_the_overview_shows_each_account_with_balance_recent_transactions_and_cards(banked, client):
    Card.objects.create(
        customer=banked.profile, account=banked.checking, last4="1234", expiry_month=6,
        expiry_year=2031, status=Card.Status.FROZEN,
    )  # fmt: skip
    post_to(banked.checking, -1_250, "Coffee at Joe's")

    response = client.get(reverse("accounts:home"))

    assert response.status_code == 200
    html = response.content.decode()
    assert not missing(html, "Everyday", "Rainy day")
    assert not missing(html, banked.checking.masked_number, banked.checking.iban)
    assert not missing(html, "Current account", "Savings account")
    assert "487.50 GBP" in html  # balance and available of the current account
    assert "Coffee at Joe&#x27;s" in html
    assert 'class="amount amount-debit"><span class="visually-hidden">debit </span>' in html
    assert "&minus;12.50 GBP" in html
    assert not missing(html, "•••• •••• •••• 1234", "Frozen")


def test_the_overview_shows_only_the_five_newest_transactions(banked, client):
    for day in range(1, 8):
        post_to(banked.savings, 100 * day, f"Saving {day}", on=datetime(2024, 3, day, tzinfo=UTC))
    response = client.get(reverse("accounts:home"))
    recent = [posting.description for posting, _account in response.context["recent"]]
    # The opening balance is booked now, so it is the newest.
    assert recent == ["Opening balance", "Saving 7", "Saving 6", "Saving 5", "Saving 4"]


def test_a_customer_with_no_accounts_sees_an_empty_state(customer, client):
    customer_create(user=customer, first_name="Casey", last_name="Customer")
    client.force_login(customer)
    response = client.get(reverse("accounts:home"))
    assert response.status_code == 200
    assert "No accounts yet" in response.content.decode()


@pytest.mark.parametrize(
    "url_name",
    [
        "accounts:home",
        "accounts:transfer-new",
        "accounts:payment-list",
        "accounts:payee-list",
        "accounts:card-list",
        "accounts:loan-prequalify",
        "accounts:standing-order-list",
    ],
)
def test_a_customer_without_a_profile_gets_a_friendly_page(customer, client, url_name):
    client.force_login(customer)
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    assert "We are still setting up your banking" in response.content.decode()


def test_a_customer_without_a_profile_can_post_without_an_error(customer, client):
    client.force_login(customer)
    response = client.post(reverse("accounts:transfer-new"), {"amount": "1.00"})
    assert response.status_code == 200
    assert not Payment.objects.exists()


def test_banking_pages_are_for_signed_in_customers(client, staff):
    url = reverse("accounts:payment-list")
    assert client.get(url).status_code == 302
    client.force_login(staff)
    assert client.get(url).status_code == 403


# --- History and statements -----------------------------------------------------------


@pytest.fixture
def history(banked):
    post_to(banked.checking, 250_000, "Salary Acme", on=datetime(2024, 1, 15, 9, tzinfo=UTC))
    post_to(banked.checking, -450, "Coffee shop", on=datetime(2024, 1, 20, 8, tzinfo=UTC))
    post_to(banked.checking, -115_000, "Rent", on=datetime(2024, 2, 1, 10, tzinfo=UTC))
    return banked


def descriptions(response) -> list[str]:
    return [posting.description for posting in response.context["postings"]]


def test_the_history_lists_the_accounts_postings_newest_first(history, client):
    url = reverse("accounts:account-detail", args=[history.checking.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert descriptions(response) == ["Opening balance", "Rent", "Coffee shop", "Salary Acme"]
    html = response.content.decode()
    assert "+2,500.00 GBP" in html
    assert "&minus;1,150.00 GBP" in html
    assert '<span class="visually-hidden">credit </span>' in html
    assert "<caption" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"q": "coffee"}, ["Coffee shop"]),
        ({"q": "counterparty ltd"}, ["Opening balance", "Rent", "Coffee shop", "Salary Acme"]),
        ({"date_from": "2024-01-16", "date_to": "2024-01-31"}, ["Coffee shop"]),
        ({"date_to": "2024-01-31"}, ["Coffee shop", "Salary Acme"]),
        ({"amount_min": "1000"}, ["Rent", "Salary Acme"]),
        ({"amount_min": "4.50", "amount_max": "500"}, ["Opening balance", "Coffee shop"]),
    ],
)
def test_history_filters_narrow_the_list(history, client, query, expected):
    url = reverse("accounts:account-detail", args=[history.checking.pk])
    response = client.get(url, query)
    assert response.status_code == 200
    assert descriptions(response) == expected
    assert not response.context["filter_form"].errors


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"amount_min": "abc"}, "amount_min", "Enter an amount such as 12.50."),
        ({"amount_max": "0"}, "amount_max", "The amount must be more than zero."),
        ({"amount_max": "1.234"}, "amount_max", "GBP amounts have at most 2 decimal places."),
        ({"date_from": "abc"}, "date_from", "Enter a valid date."),
        ({"date_to": "9999-12-31"}, "date_to", "Enter a date between 1900 and 2999."),
        (
            {"date_from": "2024-02-01", "date_to": "2024-01-01"},
            "date_to",
            "The end date cannot be before the start date.",
        ),
        (
            {"amount_min": "10", "amount_max": "5"},
            "amount_max",
            "The largest amount cannot be below the smallest.",
        ),
    ],
)
def test_bad_filter_input_shows_the_error_beside_the_field(history, client, query, field, message):
    url = reverse("accounts:account-detail", args=[history.checking.pk])
    response = client.get(url, query)
    assert response.status_code == 200
    assert response.context["filter_form"].errors[field] == [message]
    html = response.content.decode()
    assert f'id="id_{field}_error">{message}' in html.replace("&#x27;", "'")
    assert "is-invalid" in html


def test_the_history_is_paginated_and_the_pages_keep_the_filters(banked, client):
    for day in range(1, 31):
        post_to(banked.savings, 100, f"Round-up {day}", on=datetime(2024, 4, day, tzinfo=UTC))
    url = reverse("accounts:account-detail", args=[banked.savings.pk])

    first = client.get(url, {"q": "round-up"})
    assert len(first.context["postings"]) == 25
    assert not missing(first.content.decode(), "page=2", "q=round-up")

    second = client.get(url, {"q": "round-up", "page": "2"})
    assert descriptions(second) == [f"Round-up {day}" for day in range(5, 0, -1)]
    assert client.get(url, {"page": "not-a-number"}).status_code == 200


def test_the_statement_is_a_csv_attachment_for_the_date_range(history, client):
    url = reverse("accounts:statement", args=[history.checking.pk])
    response = client.get(url, {"date_from": "2024-01-01", "date_to": "2024-01-31"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    last4 = history.checking.number[-4:]
    assert response["Content-Disposition"] == (
        f'attachment; filename="statement-{last4}-2024-01-01-2024-01-31.csv"'
    )
    assert "no-store" in response["Cache-Control"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["date", "description", "counterparty", "amount", "currency", "entry_id"]
    assert [row[:5] for row in rows[1:]] == [
        ["2024-01-20", "Coffee shop", "Counterparty Ltd", "-4.50", "GBP"],
        ["2024-01-15", "Salary Acme", "Counterparty Ltd", "2500.00", "GBP"],
    ]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"date_from": "abc", "date_to": "2024-01-31"}, "date_from", "Enter a valid date."),
        ({"date_to": "2024-01-31"}, "date_from", "This field is required."),
        (
            {"date_from": "2024-02-01", "date_to": "2024-01-01"},
            "date_to",
            "The end date cannot be before the start date.",
        ),
    ],
)
def test_a_statement_with_bad_dates_shows_the_account_page_with_the_error(
    history, client, query, field, message
):
    url = reverse("accounts:statement", args=[history.checking.pk])
    response = client.get(url, query)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert response.context["statement_form"].errors[field] == [message]
    assert f'id="id_statement_{field}_error">{message}' in response.content.decode()


# --- Transfers ------------------------------------------------------------------------


def start_transfer(client, *, query: dict | None = None, **fields):
    """Open the payment form, submit it, and return the confirmation page's token."""
    form_page = client.get(reverse("accounts:transfer-new"), query or {})
    assert form_page.status_code == 200
    key = form_page.context["form"]["idempotency_key"].value()
    assert key
    return client.post(reverse("accounts:transfer-new"), {"idempotency_key": key, **fields})


def confirm_token(response) -> str:
    assert response.status_code == 302, response.content.decode()[:2000]
    url = urlparse(response["Location"])
    assert url.path == reverse("accounts:transfer-confirm")
    return parse_qs(url.query)["token"][0]


def own_transfer(person, amount="25.00", reference="Savings pot"):
    return {
        "from_account": person.checking.pk,
        "destination": "own",
        "to_account": person.savings.pk,
        "amount": amount,
        "reference": reference,
    }


def test_a_transfer_between_own_accounts_is_reviewed_confirmed_and_completed(banked, client):
    token = confirm_token(start_transfer(client, **own_transfer(banked)))
    assert not Payment.objects.exists()  # nothing is paid before the confirmation

    review = client.get(reverse("accounts:transfer-confirm"), {"token": token})
    assert review.status_code == 200
    html = review.content.decode()
    assert "Check your payment" in html
    assert not missing(html, "25.00 GBP", "Savings pot")
    assert not missing(html, "Everyday", "Rainy day")
    assert f'name="token" value="{token}"' in html

    done = client.post(reverse("accounts:transfer-confirm"), {"token": token})
    payment = Payment.objects.get()
    assert done.status_code == 302
    assert done["Location"] == reverse("accounts:payment-detail", args=[payment.pk])
    assert payment.status == Payment.Status.COMPLETED
    assert payment.created_by == banked.user
    assert balance(banked.checking) == Decimal("475.00")
    assert balance(banked.savings) == Decimal("25.00")

    result = client.get(done["Location"])
    assert result.status_code == 200
    assert "Payment sent" in result.content.decode()


def test_posting_the_confirmation_again_never_pays_twice(banked, client):
    token = confirm_token(start_transfer(client, **own_transfer(banked)))
    first = client.post(reverse("accounts:transfer-confirm"), {"token": token})
    again = client.post(reverse("accounts:transfer-confirm"), {"token": token})
    assert again.status_code == 302
    assert again["Location"] == first["Location"]
    assert Payment.objects.count() == 1
    assert balance(banked.checking) == Decimal("475.00")
    # Opening the confirmation of a paid transfer shows its result.
    review = client.get(reverse("accounts:transfer-confirm"), {"token": token})
    assert review["Location"] == first["Location"]


def test_the_same_form_submitted_twice_and_both_confirmed_pays_once(banked, client):
    form_page = client.get(reverse("accounts:transfer-new"))
    key = form_page.context["form"]["idempotency_key"].value()
    data = {"idempotency_key": key, **own_transfer(banked)}
    first = confirm_token(client.post(reverse("accounts:transfer-new"), data))
    second = confirm_token(client.post(reverse("accounts:transfer-new"), data))
    assert first != second
    paid = client.post(reverse("accounts:transfer-confirm"), {"token": first})
    replayed = client.post(reverse("accounts:transfer-confirm"), {"token": second})
    assert paid["Location"] == replayed["Location"]
    assert Payment.objects.count() == 1
    assert balance(banked.checking) == Decimal("475.00")


def test_an_old_form_changed_after_paying_asks_again_instead_of_failing(banked, client):
    form_page = client.get(reverse("accounts:transfer-new"))
    key = form_page.context["form"]["idempotency_key"].value()
    token = confirm_token(
        client.post(
            reverse("accounts:transfer-new"), {"idempotency_key": key, **own_transfer(banked)}
        )
    )
    client.post(reverse("accounts:transfer-confirm"), {"token": token})
    changed = {"idempotency_key": key, **own_transfer(banked, amount="30.00")}
    token = confirm_token(client.post(reverse("accounts:transfer-new"), changed))

    response = client.post(reverse("accounts:transfer-confirm"), {"token": token})

    assert response.status_code == 200
    assert "already used for another payment" in response.content.decode()
    assert response.context["form"]["idempotency_key"].value() != key
    assert Payment.objects.count() == 1


def test_insufficient_funds_shows_the_error_beside_the_amount_and_writes_nothing(banked, client):
    token = confirm_token(start_transfer(client, **own_transfer(banked, amount="500.01")))
    before = ledger_counts()

    response = client.post(reverse("accounts:transfer-confirm"), {"token": token})

    assert response.status_code == 200
    assert field_error(response, "amount") == "You can send at most 500.00 GBP."
    assert "There is not enough money in this account." in response.content.decode()
    assert 'id="id_amount_error">You can send at most 500.00 GBP.' in response.content.decode()
    assert ledger_counts() == before
    assert balance(banked.checking) == Decimal("500.00")


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"amount": "abc"}, "amount", "Enter an amount such as 12.50."),
        ({"from_account": "", "amount": "abc"}, "amount", "Enter an amount such as 12.50."),
        ({"from_account": ""}, "from_account", "This field is required."),
        ({"amount": "1.001"}, "amount", "GBP amounts have at most 2 decimal places."),
        ({"amount": "0"}, "amount", "The amount must be more than zero."),
        ({"to_account": ""}, "to_account", "Choose the account to pay into."),
        ({"destination": "iban", "to_iban": "GB00 NOPE"}, "to_iban", "This is not a valid IBAN."),
        ({"destination": "payee"}, "payee", "Choose a payee."),
    ],
)
def test_the_payment_form_checks_cheap_things_first(banked, client, fields, field, message):
    response = start_transfer(client, **{**own_transfer(banked), **fields})
    assert response.status_code == 200
    assert field_error(response, field) == message
    assert not Payment.objects.exists()


def test_someone_elses_account_cannot_be_chosen_to_pay_from(banked, client, stranger):
    fields = {**own_transfer(banked), "from_account": stranger.checking.pk}
    response = start_transfer(client, **fields)
    assert response.status_code == 200
    assert "from_account" in response.context["form"].errors
    assert Payment.objects.filter(customer=banked.profile).count() == 0


def test_a_payment_to_another_bank_is_pending(banked, client):
    fields = {
        "from_account": banked.checking.pk,
        "destination": "iban",
        "to_iban": "de89 3704 0044 0532 0130 00",
        "to_name": "Max Mustermann",
        "amount": "40.00",
        "reference": "Invoice 7",
    }
    token = confirm_token(start_transfer(client, **fields))
    review = client.get(reverse("accounts:transfer-confirm"), {"token": token})
    assert "payment to another bank" in review.content.decode()

    done = client.post(reverse("accounts:transfer-confirm"), {"token": token})

    payment = Payment.objects.get()
    assert payment.status == Payment.Status.PENDING
    assert payment.kind == Payment.Kind.EXTERNAL
    assert payment.to_iban == EXTERNAL_IBAN
    assert payment.to_name == "Max Mustermann"
    assert balance(banked.checking) == Decimal("460.00")
    assert "Payment on its way" in client.get(done["Location"]).content.decode()


def test_paying_a_saved_payee_uses_its_iban_and_name(banked, client):
    payee = payee_create(
        customer=banked.profile, name="Harbour Lettings", iban=EXTERNAL_IBAN,
        default_reference="Flat 3",
    )  # fmt: skip
    form_page = client.get(reverse("accounts:transfer-new"), {"payee": payee.pk})
    form = form_page.context["form"]
    assert form["destination"].value() == "payee"
    assert form["payee"].value() == payee.pk
    assert form["reference"].value() == "Flat 3"

    fields = {
        "from_account": banked.checking.pk,
        "destination": "payee",
        "payee": payee.pk,
        "amount": "10.00",
        "reference": "Flat 3",
    }
    token = confirm_token(start_transfer(client, **fields))
    client.post(reverse("accounts:transfer-confirm"), {"token": token})

    payment = Payment.objects.get()
    assert (payment.to_iban, payment.to_name, payment.reference) == (
        EXTERNAL_IBAN,
        "Harbour Lettings",
        "Flat 3",
    )


def test_the_form_preselects_the_account_to_pay_from(banked, client):
    response = client.get(reverse("accounts:transfer-new"), {"from": banked.savings.pk})
    assert response.context["form"]["from_account"].value() == banked.savings.pk


def test_change_brings_back_the_form_with_the_same_values_and_key(banked, client):
    form_page = client.get(reverse("accounts:transfer-new"))
    key = form_page.context["form"]["idempotency_key"].value()
    data = {"idempotency_key": key, **own_transfer(banked, amount="12.34")}
    token = confirm_token(client.post(reverse("accounts:transfer-new"), data))

    response = client.get(reverse("accounts:transfer-new"), {"change": token})

    form = response.context["form"]
    assert form["amount"].value() == "12.34"
    assert form["idempotency_key"].value() == key


def test_an_unknown_confirmation_token_starts_again(banked, client):
    response = client.post(reverse("accounts:transfer-confirm"), {"token": "nope"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("accounts:transfer-new")
    assert "expired" in response.content.decode()
    assert not Payment.objects.exists()


def hold_everything(payment) -> ScreeningDecision:
    return ScreeningDecision(Outcome.HOLD, "Unusual amount for this account.")


def reject_everything(payment) -> ScreeningDecision:
    return ScreeningDecision(Outcome.REJECT, "The receiving account is blocked.")


@pytest.mark.parametrize(
    ("hook", "heading", "reason"),
    [
        ("hold_everything", "We are checking this payment", "Unusual amount for this account."),
        ("reject_everything", "Payment not made", "The receiving account is blocked."),
    ],
)
def test_held_and_rejected_payments_say_so_with_the_reason(banked, client, hook, heading, reason):
    token = confirm_token(start_transfer(client, **own_transfer(banked)))
    with override_settings(PAYMENT_SCREENING_HOOKS=[f"{__name__}.{hook}"]):
        done = client.post(reverse("accounts:transfer-confirm"), {"token": token})
    html = client.get(done["Location"]).content.decode()
    assert not missing(html, heading, reason)
    assert balance(banked.checking) == Decimal("500.00")


def test_the_payment_list_shows_the_customers_payments_with_their_status(banked, client, stranger):
    payment_create(
        customer=banked.profile,
        actor=banked.user,
        from_account_id=banked.checking.pk,
        to_iban=EXTERNAL_IBAN,
        to_name="Max",
        amount="3.00",
        currency="GBP",
        idempotency_key="list-1",
    )
    response = client.get(reverse("accounts:payment-list"))
    assert response.status_code == 200
    assert [p.to_name for p in response.context["payments"]] == ["Max"]
    assert "text-bg-info" in response.content.decode()  # the pending badge


def test_posts_need_the_csrf_token(banked):
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(banked.user)
    token_less = csrf_client.post(reverse("accounts:transfer-new"), own_transfer(banked))
    assert token_less.status_code == 403


# --- Payees ---------------------------------------------------------------------------


def test_adding_a_payee_shows_errors_beside_the_fields_then_saves(banked, client):
    url = reverse("accounts:payee-list")
    response = client.post(url, {"name": "Max", "iban": "DE00 1234"})
    assert response.status_code == 200
    assert field_error(response, "iban") == "This is not a valid IBAN."
    assert not Payee.objects.exists()

    response = client.post(
        url, {"name": "Max", "iban": "de89 3704 0044 0532 0130 00", "default_reference": "Rent"}
    )
    assert response.status_code == 302
    payee = Payee.objects.get()
    assert (payee.customer, payee.iban, payee.default_reference) == (
        banked.profile,
        EXTERNAL_IBAN,
        "Rent",
    )
    page = client.get(url).content.decode()
    assert not missing(page, "Max", f"{reverse('accounts:transfer-new')}?payee={payee.pk}")

    duplicate = client.post(url, {"name": "Max again", "iban": EXTERNAL_IBAN})
    assert field_error(duplicate, "iban") == "You already have a payee with this IBAN."


def test_deleting_a_payee(banked, client):
    payee = payee_create(customer=banked.profile, name="Max", iban=EXTERNAL_IBAN)
    response = client.post(reverse("accounts:payee-delete", args=[payee.pk]), follow=True)
    assert not Payee.objects.exists()
    assert "Max is no longer a payee." in response.content.decode()


def test_a_payee_with_a_standing_order_is_kept_with_a_message(banked, client):
    payee = payee_create(customer=banked.profile, name="Max", iban=EXTERNAL_IBAN)
    standing_order_create(
        customer=banked.profile,
        from_account_id=banked.checking.pk,
        payee_id=payee.pk,
        amount="5.00",
        frequency=StandingOrder.Frequency.MONTHLY,
        first_run_on=date(2999, 1, 1),
    )
    response = client.post(reverse("accounts:payee-delete", args=[payee.pk]), follow=True)
    assert Payee.objects.filter(pk=payee.pk).exists()
    assert "Cancel the standing orders to this payee first." in response.content.decode()


# --- Cards ----------------------------------------------------------------------------


def test_freezing_and_unfreezing_a_card(banked, client):
    card = Card.objects.create(
        customer=banked.profile, account=banked.checking, last4="9876", expiry_month=12,
        expiry_year=2030,
    )  # fmt: skip
    page = client.get(reverse("accounts:card-list")).content.decode()
    assert not missing(page, "•••• •••• •••• 9876", "12/2030", "Everyday")

    response = client.post(reverse("accounts:card-freeze", args=[card.pk]), follow=True)
    card.refresh_from_db()
    assert card.status == Card.Status.FROZEN
    assert "is frozen" in response.content.decode()
    assert reverse("accounts:card-unfreeze", args=[card.pk]) in response.content.decode()

    client.post(reverse("accounts:card-unfreeze", args=[card.pk]))
    card.refresh_from_db()
    assert card.status == Card.Status.ACTIVE


def test_a_cancelled_card_cannot_be_frozen(banked, client):
    card = Card.objects.create(
        customer=banked.profile, account=banked.checking, last4="9876", expiry_month=12,
        expiry_year=2030, status=Card.Status.CANCELLED,
    )  # fmt: skip
    response = client.post(reverse("accounts:card-freeze", args=[card.pk]), follow=True)
    shown = [(message.level_tag, message.message) for message in response.context["messages"]]
    assert [tag for tag, _text in shown] == ["error"]
    assert shown[0][1] in response.content.decode()
    card.refresh_from_db()
    assert card.status == Card.Status.CANCELLED


# --- Loans ----------------------------------------------------------------------------


def test_loan_prequalification_shows_the_result_with_range_and_reasons(banked, client):
    post_to(banked.checking, 900_000, "Salary")
    response = client.post(reverse("accounts:loan-prequalify"), {"stated_annual_income": "30000"})
    result = LoanPrequalification.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse(
        "accounts:loan-prequalification-detail", args=[result.pk]
    )

    page = client.get(response["Location"]).content.decode()
    assert result.eligible
    assert "You pre-qualify" in page
    assert not missing(page, "GBP", "\N{EN DASH}")
    for reason in result.reasons:
        assert reason.replace("'", "&#x27;") in page
    assert "Earlier results" in client.get(reverse("accounts:loan-prequalify")).content.decode()


def test_loan_prequalification_errors_are_shown(banked, client):
    response = client.post(reverse("accounts:loan-prequalify"), {"stated_annual_income": "lots"})
    assert response.status_code == 200
    assert field_error(response, "stated_annual_income") == "Enter an amount such as 12.50."
    assert not LoanPrequalification.objects.exists()


def test_loan_prequalification_without_an_account_is_a_message(customer, client):
    customer_create(user=customer, first_name="Casey", last_name="Customer")
    client.force_login(customer)
    response = client.post(reverse("accounts:loan-prequalify"), {"stated_annual_income": "30000"})
    assert response.status_code == 200
    assert "You need an open current or savings account" in response.content.decode()


# --- Standing orders ------------------------------------------------------------------


def test_cancelling_a_standing_order(banked, client):
    payee = payee_create(customer=banked.profile, name="Gym", iban=EXTERNAL_IBAN)
    order = standing_order_create(
        customer=banked.profile,
        from_account_id=banked.checking.pk,
        payee_id=payee.pk,
        amount="29.99",
        frequency=StandingOrder.Frequency.MONTHLY,
        first_run_on=date(2999, 1, 1),
    )
    page = client.get(reverse("accounts:standing-order-list")).content.decode()
    assert not missing(page, "Gym", "29.99 GBP", "Monthly")

    response = client.post(reverse("accounts:standing-order-cancel", args=[order.pk]), follow=True)
    order.refresh_from_db()
    assert not order.active
    assert "Your standing order to Gym is cancelled." in response.content.decode()


# --- Someone else's ids ---------------------------------------------------------------


def test_another_customers_ids_are_not_found_on_every_page(banked, client, stranger):
    pages = [
        reverse("accounts:account-detail", args=[stranger.checking.pk]),
        reverse("accounts:statement", args=[stranger.checking.pk])
        + "?date_from=2024-01-01&date_to=2024-01-31",
        reverse("accounts:payment-detail", args=[stranger.payment.pk]),
        reverse("accounts:loan-prequalification-detail", args=[stranger.loan.pk]),
    ]
    for url in pages:
        assert client.get(url).status_code == 404, url

    actions = [
        reverse("accounts:payee-delete", args=[stranger.payee.pk]),
        reverse("accounts:card-freeze", args=[stranger.card.pk]),
        reverse("accounts:card-unfreeze", args=[stranger.card.pk]),
        reverse("accounts:standing-order-cancel", args=[stranger.order.pk]),
    ]
    for url in actions:
        assert client.post(url).status_code == 404, url

    assert Payee.objects.filter(pk=stranger.payee.pk).exists()
    stranger.card.refresh_from_db()
    stranger.order.refresh_from_db()
    assert stranger.card.status == Card.Status.ACTIVE
    assert stranger.order.active


def test_another_customers_payee_or_account_is_not_preselected(banked, client, stranger):
    response = client.get(
        reverse("accounts:transfer-new"),
        {"payee": stranger.payee.pk, "from": stranger.checking.pk},
    )
    form = response.context["form"]
    assert form["payee"].value() is None
    assert form["from_account"].value() == banked.checking.pk  # the default, not theirs
    assert "Landlord" not in response.content.decode()
