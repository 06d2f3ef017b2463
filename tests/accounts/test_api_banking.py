"""The mobile API's banking endpoints: their contract, their permissions, and that a refused
request moves no money."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import (
    Account,
    Card,
    Customer,
    JournalEntry,
    LoanPrequalification,
    Payee,
    Payment,
    Posting,
    StandingOrder,
    User,
)
from apps.accounts.services.customers import customer_create
from apps.accounts.services.ledger import (
    account_open,
    internal_account,
)
from apps.accounts.services.loans import loan_prequalify
from apps.accounts.services.payees import payee_create
from apps.accounts.services.payments import payment_create
from apps.accounts.services.standing_orders import standing_order_create
from tests.factories import ledger_book
from tests.helpers import PASSWORD

EXTERNAL_IBAN = "DE89370400440532013000"
OPENING_DAY = datetime(2024, 12, 31, 9, 0, tzinfo=UTC)


# --- Helpers ---------------------------------------------------------------------------


def post_entry(account: Account, minor: int, *, description="Opening balance", **extra) -> None:
    ledger_book(account, minor, description, **extra)


class Api:
    """The test client, signed in as the mobile app is: with a bearer token."""

    def __init__(self, client, user: User):
        self.client = client
        response = client.post(
            "/api/v1/auth/token/",
            {"username": user.username, "password": PASSWORD},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {response.json()['access']}"}

    def get(self, url, data=None, **extra):
        return self.client.get(url, data, **self.headers, **extra)

    def post(self, url, body=None, **extra):
        return self.client.post(
            url, body or {}, content_type="application/json", **self.headers, **extra
        )

    def delete(self, url, **extra):
        return self.client.delete(url, **self.headers, **extra)


@dataclass
class Bank:
    user: User
    customer: Customer
    checking: Account
    savings: Account


def open_customer(user: User, first_name: str, last_name: str, funds: dict[str, int]) -> Bank:
    customer = customer_create(user=user, first_name=first_name, last_name=last_name)
    checking = account_open(
        customer=customer,
        type=Account.Type.CHECKING,
        currency="GBP",
        name="Current account",
        limit_minor=50_000,
    )
    savings = account_open(
        customer=customer, type=Account.Type.SAVINGS, currency="GBP", name="Savings"
    )
    for account, minor in ((checking, funds["checking"]), (savings, funds["savings"])):
        if minor:
            post_entry(account, minor, booked_at=OPENING_DAY)
    checking.refresh_from_db()
    savings.refresh_from_db()
    return Bank(user=user, customer=customer, checking=checking, savings=savings)


def ledger_state() -> tuple:
    """Everything a refused payment must leave as it was."""
    return (
        Posting.objects.count(),
        JournalEntry.objects.count(),
        Payment.objects.count(),
        tuple(Account.objects.order_by("pk").values_list("pk", "balance_minor")),
    )


def balance(account: Account) -> int:
    account.refresh_from_db()
    return account.balance_minor


def assert_error(response, status: int, code: str, *fields: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert body["message"]
    for field in fields:
        assert field in body["fields"], body
    return body


def url(name: str, *args) -> str:
    return reverse(f"api:{name}", args=args)


# --- Fixtures --------------------------------------------------------------------------


@pytest.fixture
def bank(customer) -> Bank:
    """The `customer` user with a profile and a funded GBP checking (limit 500) + savings."""
    return open_customer(customer, "Casey", "Customer", {"checking": 100_000, "savings": 50_000})


@pytest.fixture
def api(client, bank) -> Api:
    return Api(client, bank.user)


@pytest.fixture
def other(make_user) -> Bank:
    """Another customer, with one of everything: none of it is the first customer's."""
    found = open_customer(make_user(), "Olive", "Other", {"checking": 20_000, "savings": 0})
    Card.objects.create(
        customer=found.customer, account=found.checking, last4="9999", expiry_month=1,
        expiry_year=2030,
    )  # fmt: skip
    payee = payee_create(customer=found.customer, name="Olive's landlord", iban=EXTERNAL_IBAN)
    payment_create(
        customer=found.customer,
        actor=found.user,
        from_account_id=found.checking.pk,
        to_account_id=found.savings.pk,
        amount="10.00",
        currency="GBP",
        idempotency_key="other-1",
    )
    loan_prequalify(customer=found.customer, stated_annual_income="30000.00")
    standing_order_create(
        customer=found.customer,
        from_account_id=found.checking.pk,
        payee_id=payee.pk,
        amount="5.00",
        frequency="monthly",
        first_run_on=timezone.localdate() + timedelta(days=7),
    )
    return found


@pytest.fixture
def history(bank) -> list[int]:
    """30 more postings on checking, one a day in January 2025 at noon: day n moves n.00,
    in from "Acme Payroll" on even days, out to "Corner Shop" on odd days."""
    for day in range(1, 31):
        sign = 1 if day % 2 == 0 else -1
        post_entry(
            bank.checking,
            sign * day * 100,
            description=f"Item {day}",
            counterparty="Acme Payroll" if sign > 0 else "Corner Shop",
            kind=JournalEntry.Kind.TRANSFER,
            booked_at=datetime(2025, 1, day, 12, 0, tzinfo=UTC),
        )
    return list(range(1, 31))


def _other_ids(other: Bank) -> dict[str, int]:
    return {
        "account": other.checking.pk,
        "payment": Payment.objects.get(customer=other.customer).pk,
        "payee": Payee.objects.get(customer=other.customer).pk,
        "card": Card.objects.get(customer=other.customer).pk,
        "prequalification": LoanPrequalification.objects.get(customer=other.customer).pk,
        "order": StandingOrder.objects.get(customer=other.customer).pk,
    }


# Every endpoint: (method, URL name, the kind of id it takes or None).
ENDPOINTS = [
    ("get", "account-list", None),
    ("get", "account-detail", "account"),
    ("get", "account-transactions", "account"),
    ("get", "account-statement", "account"),
    ("get", "payment-list", None),
    ("post", "payment-list", None),
    ("get", "payment-detail", "payment"),
    ("get", "payee-list", None),
    ("post", "payee-list", None),
    ("get", "payee-detail", "payee"),
    ("delete", "payee-detail", "payee"),
    ("get", "card-list", None),
    ("get", "card-detail", "card"),
    ("post", "card-freeze", "card"),
    ("post", "card-unfreeze", "card"),
    ("get", "loan-prequalification-list", None),
    ("post", "loan-prequalification-list", None),
    ("get", "loan-prequalification-detail", "prequalification"),
    ("get", "standing-order-list", None),
    ("get", "standing-order-detail", "order"),
]
STATEMENT_QUERY = {"date_from": "2025-01-01", "date_to": "2025-01-31"}


def _call(client_or_api, method: str, name: str, object_id: int | None, **extra):
    target = url(name, object_id) if object_id is not None else url(name)
    if name == "account-statement":
        target += "?date_from=2025-01-01&date_to=2025-01-31"
    if method == "post":
        return client_or_api.post(target, {}, content_type="application/json", **extra)
    return getattr(client_or_api, method)(target, **extra)


# --- Who may call ----------------------------------------------------------------------


@pytest.mark.parametrize(("method", "name", "kind"), ENDPOINTS)
def test_anonymous_callers_get_401(client, other, method, name, kind):
    object_id = _other_ids(other)[kind] if kind else None
    assert_error(_call(client, method, name, object_id), 401, "not_authenticated")


@pytest.mark.parametrize(("method", "name", "kind"), ENDPOINTS)
def test_staff_get_401_without_mfa_and_403_with_it(
    client, staff, other, verified_client, method, name, kind
):
    object_id = _other_ids(other)[kind] if kind else None
    client.force_login(staff)  # a session that never passed the second factor
    assert_error(_call(client, method, name, object_id), 401, "mfa_required")
    client.logout()
    verified_client(staff)
    assert_error(_call(client, method, name, object_id), 403, "permission_denied")


@pytest.mark.parametrize(("method", "name", "kind"), [e for e in ENDPOINTS if e[2]])
def test_someone_elses_ids_are_404_and_change_nothing(api, other, method, name, kind):
    before = ledger_state(), list(Card.objects.values_list("status", flat=True))
    payees = Payee.objects.count()
    response = _call(api.client, method, name, _other_ids(other)[kind], **api.headers)
    assert_error(response, 404, "not_found")
    assert (ledger_state(), list(Card.objects.values_list("status", flat=True))) == before
    assert Payee.objects.count() == payees


@pytest.mark.parametrize("object_id", [2**62, 2**64])
@pytest.mark.parametrize(("method", "name", "kind"), [e for e in ENDPOINTS if e[2]])
def test_unknown_ids_are_404(api, method, name, kind, object_id):
    assert_error(_call(api.client, method, name, object_id, **api.headers), 404, "not_found")


def test_a_customer_without_a_profile_has_empty_lists_404_details_and_cannot_write(
    client, customer
):
    api = Api(client, customer)
    for name in ("account-list", "payee-list", "card-list", "standing-order-list"):
        response = api.get(url(name))
        assert response.status_code == 200
        assert response.json() == []
    for name in ("payment-list", "loan-prequalification-list"):
        assert api.get(url(name)).json() == {"next": None, "previous": None, "results": []}
    # The bank's internal accounts have no customer either: they must stay invisible.
    internal = internal_account(purpose="opening_balances", currency="GBP")
    assert_error(api.get(url("account-detail", internal.pk)), 404, "not_found")
    assert_error(api.get(url("account-transactions", internal.pk)), 404, "not_found")
    body = {"from_account": internal.pk, "to_iban": EXTERNAL_IBAN, "amount": "1.00"}
    response = api.post(url("payment-list"), {**body, "currency": "GBP"}, HTTP_IDEMPOTENCY_KEY="k")
    assert_error(response, 403, "permission_denied")
    assert not Payment.objects.exists()


# --- Accounts --------------------------------------------------------------------------


def test_account_list_shape_with_decimal_strings(api, bank):
    response = api.get(url("account-list"))
    assert response.status_code == 200
    checking, savings = response.json()
    assert checking == {
        "id": bank.checking.pk,
        "type": "checking",
        "name": "Current account",
        "currency": "GBP",
        "balance": "1000.00",
        "available_balance": "1500.00",
        "status": "open",
        "number": f"••••{bank.checking.number[-4:]}",
        "iban": bank.checking.iban,
    }
    assert savings["balance"] == savings["available_balance"] == "500.00"
    assert savings["type"] == "savings"


def test_account_list_hides_closed_accounts_and_other_customers(api, bank, other):
    Account.objects.filter(pk=bank.savings.pk).update(status=Account.Status.CLOSED)
    assert [a["id"] for a in api.get(url("account-list")).json()] == [bank.checking.pk]


def test_account_detail_has_the_list_shape(api, bank):
    detail = api.get(url("account-detail", bank.savings.pk))
    assert detail.status_code == 200
    assert detail.json() == api.get(url("account-list")).json()[1]


# --- Transactions ----------------------------------------------------------------------


def _all_pages(api, first_url, **params) -> list[dict]:
    items, response = [], api.get(first_url, params)
    while True:
        assert response.status_code == 200, response.content
        page = response.json()
        assert set(page) == {"next", "previous", "results"}
        items += page["results"]
        if page["next"] is None:
            return items
        response = api.get(page["next"])


def test_transactions_are_cursor_paginated_newest_first(api, bank, history):
    response = api.get(url("account-transactions", bank.checking.pk))
    first = response.json()
    assert len(first["results"]) == 25
    assert first["previous"] is None
    assert "cursor=" in first["next"]

    items = _all_pages(api, url("account-transactions", bank.checking.pk))
    assert len(items) == 31  # the opening balance and 30 days
    assert len({item["id"] for item in items}) == 31
    assert [item["description"] for item in items[:2]] == ["Item 30", "Item 29"]
    assert items[-1]["description"] == "Opening balance"
    assert items == sorted(items, key=lambda i: (i["booked_at"], i["id"]), reverse=True)

    second = api.get(first["next"]).json()
    assert len(second["results"]) == 6
    assert api.get(second["previous"]).json()["results"] == first["results"]


def test_page_size_is_a_parameter_up_to_100(api, bank, history):
    path = url("account-transactions", bank.checking.pk)
    assert len(api.get(path, {"page_size": 5}).json()["results"]) == 5
    assert len(_all_pages(api, path, page_size=7)) == 31
    for _ in range(80):
        post_entry(bank.checking, 1, description="Penny")
    assert len(api.get(path, {"page_size": 1000}).json()["results"]) == 100


def test_rows_booked_at_the_same_instant_are_neither_repeated_nor_skipped(api, bank):
    instant = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    for n in range(7):
        post_entry(bank.checking, 100 + n, description=f"Same {n}", booked_at=instant)
    items = _all_pages(api, url("account-transactions", bank.checking.pk), page_size=3)
    assert len(items) == 8
    assert len({item["id"] for item in items}) == 8


def test_a_transaction_item_shape(api, bank):
    created = api.post(
        url("payment-list"),
        {"from_account": bank.checking.pk, "to_account": bank.savings.pk, "amount": "12.30",
         "currency": "GBP", "reference": "Pocket money"},
        HTTP_IDEMPOTENCY_KEY="shape-1",
    ).json()  # fmt: skip
    item = api.get(url("account-transactions", bank.checking.pk)).json()["results"][0]
    posting = Posting.objects.get(pk=item["id"])
    assert item == {
        "id": posting.pk,
        "booked_at": item["booked_at"],
        "description": "Pocket money",
        "counterparty": "Casey Customer",
        "amount": "-12.30",
        "currency": "GBP",
        "kind": "transfer",
        "entry_id": posting.entry_id,
        "payment_id": created["id"],
    }
    assert datetime.fromisoformat(item["booked_at"]) == posting.booked_at
    opening = api.get(url("account-transactions", bank.savings.pk)).json()["results"][-1]
    assert (opening["kind"], opening["amount"], opening["payment_id"]) == (
        "opening",
        "500.00",
        None,
    )


@pytest.mark.parametrize(
    ("params", "days"),
    [
        ({"date_from": "2025-01-10", "date_to": "2025-01-12"}, [12, 11, 10]),
        ({"date_from": "2025-01-29"}, [30, 29]),
        ({"date_to": "2025-01-02"}, [2, 1, "opening"]),
        ({"amount_min": "28"}, [30, 29, 28, "opening"]),
        ({"amount_max": "2.00"}, [2, 1]),
        ({"amount_min": "5", "amount_max": "6"}, [6, 5]),  # +6.00 and -5.00 alike
        ({"q": "ITEM 7"}, [7]),
        ({"q": "payroll"}, list(range(30, 0, -2))),
        ({"q": "corner", "amount_min": "25", "date_from": "2025-01-20"}, [29, 27, 25]),
    ],
)
def test_transaction_filters(api, bank, history, params, days):
    items = _all_pages(api, url("account-transactions", bank.checking.pk), **params)
    expected = ["Opening balance" if d == "opening" else f"Item {d}" for d in days]
    assert [item["description"] for item in items] == expected


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"date_from": "2025-13-01"}, ["date_from"]),
        ({"date_from": "01/02/2025"}, ["date_from"]),
        ({"date_to": "yesterday"}, ["date_to"]),
        ({"date_to": "9999-12-31"}, ["date_to"]),
        ({"date_from": "2025-02-01", "date_to": "2025-01-01"}, ["date_to"]),
        ({"amount_min": "-5"}, ["amount_min"]),
        ({"amount_min": "0"}, ["amount_min"]),
        ({"amount_max": "abc"}, ["amount_max"]),
        ({"amount_max": "NaN"}, ["amount_max"]),
        ({"amount_min": "1.234"}, ["amount_min"]),
        ({"amount_min": "1e9999"}, ["amount_min"]),
        ({"amount_min": "10", "amount_max": "5"}, ["amount_max"]),
        ({"date_from": "x", "amount_min": "y"}, ["date_from", "amount_min"]),
        ({"q": "x" * 101}, ["q"]),
    ],
)
def test_bad_transaction_filters_are_a_400_naming_the_fields(api, bank, params, fields):
    response = api.get(url("account-transactions", bank.checking.pk), params)
    body = assert_error(response, 400, "invalid", *fields)
    assert set(body["fields"]) == set(fields)


def test_a_bad_cursor_is_a_404(api, bank):
    response = api.get(url("account-transactions", bank.checking.pk), {"cursor": "garbage"})
    assert_error(response, 404, "not_found")


def test_the_transaction_list_does_not_query_per_row(api, bank, history):
    path = url("account-transactions", bank.checking.pk)
    counts = []
    for size in (2, 30):
        with CaptureQueriesContext(connection) as queries:
            assert len(api.get(path, {"page_size": size}).json()["results"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- Statement -------------------------------------------------------------------------


def test_statement_is_a_csv_attachment(api, bank, history):
    response = api.get(
        url("account-statement", bank.checking.pk),
        {"date_from": "2025-01-10", "date_to": "2025-01-12"},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="statement-{bank.checking.number[-4:]}-2025-01-10-2025-01-12.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    entry = {
        day: str(Posting.objects.get(account=bank.checking, description=f"Item {day}").entry_id)
        for day in (10, 11, 12)
    }
    assert rows[0] == ["date", "description", "counterparty", "amount", "currency", "entry_id"]
    assert rows[1:] == [
        ["2025-01-12", "Item 12", "Acme Payroll", "12.00", "GBP", entry[12]],
        ["2025-01-11", "Item 11", "Corner Shop", "-11.00", "GBP", entry[11]],
        ["2025-01-10", "Item 10", "Acme Payroll", "10.00", "GBP", entry[10]],
    ]


def test_statement_ignores_the_accept_header_and_its_errors_stay_json(api, bank):
    path = url("account-statement", bank.checking.pk)
    ok = api.get(path, STATEMENT_QUERY, HTTP_ACCEPT="text/csv")
    assert ok.status_code == 200
    assert ok["Content-Type"].startswith("text/csv")
    bad = api.get(path, {"date_from": "nope"}, HTTP_ACCEPT="text/csv")
    assert bad["Content-Type"] == "application/json"
    assert_error(bad, 400, "invalid", "date_from", "date_to")


def test_a_whole_leap_year_fits_in_one_statement(api, bank):
    response = api.get(
        url("account-statement", bank.checking.pk),
        {"date_from": "2024-01-01", "date_to": "2024-12-31"},
    )
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert [row[1] for row in rows[1:]] == ["Opening balance"]


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({}, ["date_from", "date_to"]),
        ({"date_from": "2025-01-01"}, ["date_to"]),
        ({"date_to": "2025-01-01"}, ["date_from"]),
        ({"date_from": "2025-01-31", "date_to": "2025-01-01"}, ["date_to"]),
        ({"date_from": "2024-01-01", "date_to": "2025-01-01"}, ["date_to"]),  # 367 days
        ({"date_from": "1/1/2025", "date_to": "2025-01-31"}, ["date_from"]),
    ],
)
def test_bad_statement_ranges_are_a_json_400(api, bank, params, fields):
    response = api.get(url("account-statement", bank.checking.pk), params)
    body = assert_error(response, 400, "invalid", *fields)
    assert set(body["fields"]) == set(fields)


# --- Payments --------------------------------------------------------------------------


def _own_payment(bank: Bank, **changes) -> dict:
    body = {
        "from_account": bank.checking.pk,
        "to_account": bank.savings.pk,
        "amount": "25.00",
        "currency": "GBP",
        "reference": "Savings",
    }
    return {**body, **changes}


def test_a_payment_between_own_accounts_completes_and_moves_the_money(api, bank):
    response = api.post(url("payment-list"), _own_payment(bank), HTTP_IDEMPOTENCY_KEY="pay-1")
    assert response.status_code == 201, response.content
    assert "Idempotent-Replayed" not in response
    body = response.json()
    payment = Payment.objects.get()
    assert body == {
        "id": payment.pk,
        "status": "completed",
        "kind": "own",
        "from_account": bank.checking.pk,
        "to_account": bank.savings.pk,
        "to_iban": bank.savings.iban,
        "to_name": "Casey Customer",
        "amount": "25.00",
        "currency": "GBP",
        "reference": "Savings",
        "status_reason": "",
        "created_at": body["created_at"],
        "completed_at": body["completed_at"],
    }
    assert body["completed_at"] is not None
    assert (balance(bank.checking), balance(bank.savings)) == (97_500, 52_500)
    assert payment.created_by == bank.user


def test_the_same_key_again_replays_the_payment_without_paying_twice(api, bank):
    first = api.post(url("payment-list"), _own_payment(bank), HTTP_IDEMPOTENCY_KEY="pay-2")
    assert first.status_code == 201
    state = ledger_state()
    again = api.post(url("payment-list"), _own_payment(bank), HTTP_IDEMPOTENCY_KEY="pay-2")
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert ledger_state() == state
    assert Payment.objects.count() == 1
    assert Posting.objects.filter(account=bank.checking, amount_minor__lt=0).count() == 1
    assert balance(bank.checking) == 97_500


def test_the_same_key_with_a_different_body_is_a_422(api, bank):
    api.post(url("payment-list"), _own_payment(bank), HTTP_IDEMPOTENCY_KEY="pay-3")
    state = ledger_state()
    response = api.post(
        url("payment-list"), _own_payment(bank, amount="26.00"), HTTP_IDEMPOTENCY_KEY="pay-3"
    )
    assert_error(response, 422, "idempotency_key_reused")
    assert ledger_state() == state


@pytest.mark.parametrize("headers", [{}, {"HTTP_IDEMPOTENCY_KEY": ""}])
def test_a_missing_idempotency_key_is_a_400(api, bank, headers):
    state = ledger_state()
    response = api.post(url("payment-list"), _own_payment(bank), **headers)
    body = assert_error(response, 400, "invalid", "idempotency_key")
    assert set(body["fields"]) == {"idempotency_key"}
    assert ledger_state() == state


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b, o: {"amount": "-5.00"}, "amount"),
        (lambda b, o: {"amount": "0"}, "amount"),
        (lambda b, o: {"amount": "0.00"}, "amount"),
        (lambda b, o: {"amount": "12.345"}, "amount"),
        (lambda b, o: {"amount": "abc"}, "amount"),
        (lambda b, o: {"amount": ""}, "amount"),
        (lambda b, o: {"amount": 12.5}, "amount"),
        (lambda b, o: {"amount": 12}, "amount"),
        (lambda b, o: {"amount": None}, "amount"),
        (lambda b, o: {"amount": "1e9999"}, "amount"),
        (lambda b, o: {"amount": "NaN"}, "amount"),
        (lambda b, o: {"amount": "99999999999"}, "amount"),
        (lambda b, o: {"from_account": 2**62}, "from_account"),
        (lambda b, o: {"from_account": 2**64}, "from_account"),
        (lambda b, o: {"from_account": "abc"}, "from_account"),
        (lambda b, o: {"from_account": o.checking.pk}, "from_account"),
        (lambda b, o: {"to_account": o.checking.pk}, "to_account"),
        (lambda b, o: {"to_account": b.checking.pk}, "to_account"),
        (lambda b, o: {"currency": "EUR"}, "currency"),
        (lambda b, o: {"currency": "gbp"}, "currency"),
        (lambda b, o: {"currency": "XYZ"}, "currency"),
        (lambda b, o: {"to_account": None, "to_iban": "GB00NOTANIBAN"}, "to_iban"),
        (lambda b, o: {"to_account": None, "to_iban": "GB82BSIG40404099999999"}, "to_iban"),
        (lambda b, o: {"to_iban": EXTERNAL_IBAN}, "to_account"),
        (lambda b, o: {"to_account": None}, "to_account"),
        (lambda b, o: {"reference": "x" * 141}, "reference"),
    ],
)
def test_a_bad_payment_is_a_400_naming_the_field_and_moves_nothing(api, bank, other, change, field):
    state = ledger_state()
    response = api.post(
        url("payment-list"), _own_payment(bank, **change(bank, other)), HTTP_IDEMPOTENCY_KEY="bad"
    )
    assert_error(response, 400, "invalid", field)
    assert ledger_state() == state


@pytest.mark.parametrize("raw_amount", ["1e9999", "12.5", "1250"])
def test_an_amount_sent_as_a_json_number_is_refused(api, bank, raw_amount):
    """Even one the JSON parser turns into infinity."""
    state = ledger_state()
    body = (
        f'{{"from_account": {bank.checking.pk}, "to_account": {bank.savings.pk}, '
        f'"amount": {raw_amount}, "currency": "GBP"}}'
    )
    response = api.client.post(
        url("payment-list"),
        body,
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="number",
        **api.headers,
    )
    body = assert_error(response, 400, "invalid", "amount")
    assert body["fields"]["amount"] == ['Send the amount as a string, such as "12.50".']
    assert ledger_state() == state


def test_a_payment_of_more_than_is_available_is_refused(api, bank):
    state = ledger_state()
    response = api.post(
        url("payment-list"), _own_payment(bank, amount="1500.01"), HTTP_IDEMPOTENCY_KEY="big"
    )
    body = assert_error(response, 400, "insufficient_funds", "amount")
    assert "1,500.00 GBP" in body["fields"]["amount"][0]
    assert ledger_state() == state
    # The refused attempt left no row behind, so the key can be used for a good payment.
    ok = api.post(
        url("payment-list"), _own_payment(bank, amount="1500.00"), HTTP_IDEMPOTENCY_KEY="big"
    )
    assert ok.status_code == 201
    assert balance(bank.checking) == -50_000


def test_a_payment_from_a_frozen_account_is_refused(api, bank):
    Account.objects.filter(pk=bank.checking.pk).update(status=Account.Status.FROZEN)
    state = ledger_state()
    response = api.post(url("payment-list"), _own_payment(bank), HTTP_IDEMPOTENCY_KEY="frozen")
    assert_error(response, 400, "account_not_open", "from_account")
    assert ledger_state() == state


def test_a_payment_to_another_bank_is_pending(api, bank):
    response = api.post(
        url("payment-list"),
        _own_payment(bank, to_account=None, to_iban="DE89 3704 0044 0532 0130 00"),
        HTTP_IDEMPOTENCY_KEY="ext-1",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["kind"], body["to_account"]) == ("pending", "external", None)
    assert body["to_iban"] == EXTERNAL_IBAN
    assert body["completed_at"] is None
    assert balance(bank.checking) == 97_500


def test_a_payment_to_another_customers_iban_completes_at_once(api, bank, other):
    response = api.post(
        url("payment-list"),
        _own_payment(bank, to_account=None, to_iban=other.checking.iban, amount="40.00"),
        HTTP_IDEMPOTENCY_KEY="int-1",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["kind"]) == ("completed", "internal")
    assert body["to_name"] == "Olive Other"
    # Another customer's account id is not the payer's to know: the IBAN names the payee.
    assert body["to_account"] is None
    assert body["to_iban"] == other.checking.iban
    assert balance(other.checking) == 20_000 - 1_000 + 4_000
    assert balance(bank.checking) == 96_000
    assert_error(api.get(url("account-detail", other.checking.pk)), 404, "not_found")


def test_payment_list_and_detail(api, bank, other):
    ids = []
    for n in range(3):
        response = api.post(
            url("payment-list"),
            _own_payment(bank, amount=f"{n + 1}.00"),
            HTTP_IDEMPOTENCY_KEY=f"list-{n}",
        )
        ids.append(response.json()["id"])
    page = api.get(url("payment-list")).json()
    assert [p["id"] for p in page["results"]] == ids[::-1]
    assert page["results"][0]["amount"] == "3.00"
    assert len(api.get(url("payment-list"), {"page_size": 2}).json()["results"]) == 2
    detail = api.get(url("payment-detail", ids[0]))
    assert detail.status_code == 200
    assert detail.json() == page["results"][-1]


# --- Payees ----------------------------------------------------------------------------


def test_payees_create_list_detail_delete(api, bank, other):
    response = api.post(
        url("payee-list"),
        {"name": " Harbour Lettings ", "iban": "de89 3704 0044 0532 0130 00",
         "default_reference": "Rent"},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    payee = response.json()
    assert payee == {
        "id": payee["id"],
        "name": "Harbour Lettings",
        "iban": EXTERNAL_IBAN,
        "default_reference": "Rent",
        "created_at": payee["created_at"],
    }
    assert api.get(url("payee-list")).json() == [payee]
    assert api.get(url("payee-detail", payee["id"])).json() == payee

    duplicate = api.post(url("payee-list"), {"name": "Again", "iban": EXTERNAL_IBAN})
    assert_error(duplicate, 400, "invalid", "iban")

    deleted = api.delete(url("payee-detail", payee["id"]))
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert api.get(url("payee-list")).json() == []
    assert_error(api.get(url("payee-detail", payee["id"])), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"name": "", "iban": EXTERNAL_IBAN}, ["name"]),
        ({"name": "X", "iban": "not an iban"}, ["iban"]),
        (
            {"name": "X", "iban": EXTERNAL_IBAN, "default_reference": "r" * 141},
            ["default_reference"],
        ),
        ({}, ["name", "iban"]),
        ({"name": 5, "iban": ["x"]}, ["iban"]),
    ],
)
def test_bad_payees_are_a_400_naming_the_fields(api, bank, body, fields):
    response = api.post(url("payee-list"), body)
    assert_error(response, 400, "invalid", *fields)
    assert not Payee.objects.filter(customer=bank.customer).exists()


def test_a_payee_with_standing_orders_cannot_be_deleted(api, bank):
    payee = payee_create(customer=bank.customer, name="Gym", iban=EXTERNAL_IBAN)
    standing_order_create(
        customer=bank.customer,
        from_account_id=bank.checking.pk,
        payee_id=payee.pk,
        amount="30.00",
        frequency="monthly",
        first_run_on=timezone.localdate() + timedelta(days=1),
    )
    assert_error(api.delete(url("payee-detail", payee.pk)), 409, "invalid_state")
    assert Payee.objects.filter(pk=payee.pk).exists()


# --- Cards -----------------------------------------------------------------------------


@pytest.fixture
def card(bank) -> Card:
    return Card.objects.create(
        customer=bank.customer, account=bank.checking, brand="Visa Debit", last4="4242",
        expiry_month=9, expiry_year=2030,
    )  # fmt: skip


def test_card_list_and_detail_shape(api, bank, card, other):
    expected = {
        "id": card.pk,
        "brand": "Visa Debit",
        "masked_pan": "•••• •••• •••• 4242",
        "last4": "4242",
        "expiry_month": 9,
        "expiry_year": 2030,
        "status": "active",
        "account": bank.checking.pk,
    }
    assert api.get(url("card-list")).json() == [expected]
    assert api.get(url("card-detail", card.pk)).json() == expected


def test_freeze_and_unfreeze_a_card(api, card):
    frozen = api.post(url("card-freeze", card.pk))
    assert frozen.status_code == 200
    assert frozen.json()["status"] == "frozen"
    card.refresh_from_db()
    assert card.status == Card.Status.FROZEN
    assert api.post(url("card-freeze", card.pk)).json()["status"] == "frozen"  # twice is fine

    active = api.post(url("card-unfreeze", card.pk))
    assert active.status_code == 200
    assert active.json()["status"] == "active"
    card.refresh_from_db()
    assert card.status == Card.Status.ACTIVE


def test_a_cancelled_card_cannot_be_frozen_or_unfrozen(api, card):
    Card.objects.filter(pk=card.pk).update(status=Card.Status.CANCELLED)
    assert_error(api.post(url("card-freeze", card.pk)), 409, "invalid_state")
    assert_error(api.post(url("card-unfreeze", card.pk)), 409, "invalid_state")
    card.refresh_from_db()
    assert card.status == Card.Status.CANCELLED


# --- Loan pre-qualification ------------------------------------------------------------


def test_loan_prequalification_create_list_detail(api, bank, other):
    response = api.post(url("loan-prequalification-list"), {"stated_annual_income": "40000"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {
        "id", "eligible", "currency", "min_amount", "max_amount", "stated_annual_income",
        "inflow_90d", "outflow_90d", "balances", "reasons", "created_at",
    }  # fmt: skip
    assert body["currency"] == "GBP"
    assert body["stated_annual_income"] == "40000.00"
    assert body["balances"] == "1500.00"
    for name in ("min_amount", "max_amount", "inflow_90d", "outflow_90d"):
        assert isinstance(body[name], str)
        assert body[name].endswith(tuple(f".{n:02d}" for n in range(100)))
    assert isinstance(body["eligible"], bool)
    assert body["reasons"]
    assert all(isinstance(reason, str) for reason in body["reasons"])

    page = api.get(url("loan-prequalification-list")).json()
    assert page["results"] == [body]
    assert api.get(url("loan-prequalification-detail", body["id"])).json() == body


@pytest.mark.parametrize("income", ["-1", "abc", "", 40000, 40000.5, "1.234", None])
def test_a_bad_income_is_a_400(api, bank, income):
    response = api.post(url("loan-prequalification-list"), {"stated_annual_income": income})
    assert_error(response, 400, "invalid", "stated_annual_income")
    assert not LoanPrequalification.objects.exists()


def test_prequalification_needs_an_open_account(client, customer):
    customer_create(user=customer, first_name="No", last_name="Accounts")
    api = Api(client, customer)
    response = api.post(url("loan-prequalification-list"), {"stated_annual_income": "40000"})
    assert_error(response, 409, "invalid_state")


# --- Standing orders -------------------------------------------------------------------


def test_standing_orders_list_and_detail(api, bank, other):
    payee = payee_create(customer=bank.customer, name="Gym", iban=EXTERNAL_IBAN)
    first_run = timezone.localdate() + timedelta(days=3)
    order = standing_order_create(
        customer=bank.customer,
        from_account_id=bank.checking.pk,
        payee_id=payee.pk,
        amount="30.50",
        frequency="weekly",
        first_run_on=first_run,
        reference="Membership",
    )
    expected = {
        "id": order.pk,
        "from_account": bank.checking.pk,
        "payee": payee.pk,
        "payee_name": "Gym",
        "to_iban": EXTERNAL_IBAN,
        "amount": "30.50",
        "currency": "GBP",
        "reference": "Membership",
        "frequency": "weekly",
        "next_run_on": first_run.isoformat(),
        "end_on": None,
        "active": True,
    }
    listed = api.get(url("standing-order-list")).json()
    assert len(listed) == 1
    assert {k: v for k, v in listed[0].items() if k != "created_at"} == expected
    assert api.get(url("standing-order-detail", order.pk)).json() == listed[0]


# --- Schema ----------------------------------------------------------------------------


def test_the_schema_documents_every_banking_endpoint_without_warnings(tmp_path, db):
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    for path in (
        "/api/v1/accounts/{id}/transactions/:",
        "/api/v1/accounts/{id}/statement/:",
        "/api/v1/payments/:",
        "/api/v1/cards/{id}/freeze/:",
        "/api/v1/loans/prequalifications/:",
        "/api/v1/standing-orders/:",
    ):
        assert path in text
    assert "Idempotency-Key" in text
