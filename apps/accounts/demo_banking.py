"""Demo banking data: profiles, accounts, cards, payees and six months of history.

Everything is posted through the ledger, so balances, reconciliation and the assistant's
facts all agree. A fixed random seed per customer makes the history reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts.models import Account, Card, Customer, JournalEntry, User
from apps.accounts.services.customers import customer_create
from apps.accounts.services.ledger import Leg, account_open, internal_account, journal_entry_post
from apps.accounts.services.payees import payee_create
from apps.accounts.services.standing_orders import standing_order_create


@dataclass(frozen=True)
class DemoProfile:
    username: str
    currency: str
    salary_minor: int
    employer: str
    rent_minor: int
    landlord: str
    date_of_birth: date
    address: tuple[str, str, str]
    phone: str
    ssn: str
    national_id: str
    history: bool = True


DEMO_PROFILES = [
    DemoProfile(
        "alice",
        "GBP",
        285_000,
        "Acme Analytics Ltd",
        115_000,
        "Harbour Lettings",
        date(1988, 4, 12),
        ("14 Wharf Road", "London", "N1 7GR"),
        "+44 7700 900123",
        "078-05-1120",
        "QQ123456C",
    ),
    DemoProfile(
        "bob",
        "GBP",
        340_000,
        "Northwind Engineering",
        142_500,
        "Castle Homes",
        date(1979, 11, 3),
        ("2 Albion Street", "Leeds", "LS1 6AA"),
        "+44 7700 900456",
        "219-09-9999",
        "QQ654321A",
    ),
    DemoProfile(
        "carol",
        "EUR",
        410_000,
        "Helios GmbH",
        0,
        "",
        date(1992, 2, 28),
        ("Torstrasse 120", "Berlin", "10119"),
        "+49 30 901820",
        "",
        "L01X00T47",
        history=False,
    ),
    DemoProfile(
        "dave",
        "GBP",
        265_000,
        "Dlamini & Co",
        0,
        "",
        date(1995, 7, 19),
        ("7 Harbour View", "Bristol", "BS1 5TY"),
        "+44 7700 900789",
        "",
        "QQ112233D",
        history=False,
    ),
]

SHOPS = [
    ("Tesco", 2_500, 9_500),
    ("Sainsbury's", 1_800, 8_000),
    ("Lidl", 1_200, 5_500),
    ("Pret A Manger", 450, 1_200),
    ("TfL Travel", 280, 1_800),
    ("Boots", 600, 3_200),
    ("Amazon", 899, 6_500),
    ("Deliveroo", 1_500, 3_800),
]
MONTHLY_BILLS = [("Netflix", 1_099, 3), ("Octopus Energy", 8_500, 5), ("Vodafone", 2_200, 9)]
EXTERNAL_PAYEES = {
    "Harbour Lettings": "GB29NWBK60161331926819",
    "Castle Homes": "GB33BUKB20201555555555",
    "Mum": "DE89370400440532013000",
}


def _at(day: date, hour: int) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, 0)))


def _history(profile: DemoProfile, checking: Account, savings: Account, *, days: int = 183):
    rng = random.Random(profile.username)  # noqa: S311 - reproducible demo data
    cur = profile.currency
    income = internal_account(purpose="incoming_payments", currency=cur)
    cards = internal_account(purpose="card_settlement", currency=cur)
    outgoing = internal_account(purpose="external_settlement", currency=cur)
    opening = internal_account(purpose="opening_balances", currency=cur)
    start = timezone.localdate() - timedelta(days=days)

    def post(kind, day, hour, text, legs):
        journal_entry_post(kind=kind, description=text, legs=legs, booked_at=_at(day, hour))

    post(
        JournalEntry.Kind.OPENING,
        start,
        8,
        "Opening balance",
        [
            Leg(opening, -750_000, "Opening balance"),
            Leg(checking, 300_000, "Opening balance"),
            Leg(savings, 450_000, "Opening balance"),
        ],
    )
    for offset in range(1, days):
        day = start + timedelta(days=offset)
        if day.day == 25:
            post(
                JournalEntry.Kind.INCOMING,
                day,
                7,
                f"Salary {profile.employer}",
                [
                    Leg(income, -profile.salary_minor, "Salary", profile.employer),
                    Leg(checking, profile.salary_minor, f"Salary {day:%B}", profile.employer),
                ],
            )
        if day.day == 1 and profile.rent_minor:
            post(
                JournalEntry.Kind.EXTERNAL_PAYMENT,
                day,
                9,
                "Rent",
                [
                    Leg(checking, -profile.rent_minor, f"Rent {day:%B}", profile.landlord),
                    Leg(outgoing, profile.rent_minor, "Rent", profile.landlord),
                ],
            )
        if day.day == 27:
            post(
                JournalEntry.Kind.TRANSFER,
                day,
                10,
                "Monthly saving",
                [
                    Leg(checking, -20_000, "Monthly saving", savings.name),
                    Leg(savings, 20_000, "Monthly saving", checking.name),
                ],
            )
        for merchant, amount, bill_day in MONTHLY_BILLS:
            if day.day == bill_day:
                post(
                    JournalEntry.Kind.CARD,
                    day,
                    6,
                    merchant,
                    [
                        Leg(checking, -amount, merchant, merchant),
                        Leg(cards, amount, merchant, merchant),
                    ],
                )
        for _ in range(rng.choice([0, 1, 1, 2])):
            merchant, low, high = rng.choice(SHOPS)
            amount = rng.randint(low, high)
            post(
                JournalEntry.Kind.CARD,
                day,
                rng.randint(8, 21),
                merchant,
                [
                    Leg(checking, -amount, merchant, merchant),
                    Leg(cards, amount, merchant, merchant),
                ],
            )


def _customer_for(user: User, profile: DemoProfile) -> Customer:
    customer = Customer.objects.filter(user=user).first()
    if customer is not None:
        return customer
    line, city, postcode = profile.address
    return customer_create(
        user=user,
        first_name=user.first_name,
        last_name=user.last_name,
        email=user.email,
        date_of_birth=profile.date_of_birth,
        address_line=line,
        city=city,
        postcode=postcode,
        country="DE" if profile.currency == "EUR" else "GB",
        ssn=profile.ssn,
        national_id=profile.national_id,
        phone=profile.phone,
    )


@transaction.atomic
def demo_banking_seed() -> None:
    """Create what is missing; a customer who already has accounts is left as they are."""
    customers = {}
    for profile in DEMO_PROFILES:
        user = User.objects.get(username=profile.username)
        customer = _customer_for(user, profile)
        customers[profile.username] = customer
        if customer.accounts.exists():
            continue
        checking = account_open(
            customer=customer,
            type=Account.Type.CHECKING,
            currency=profile.currency,
            name="Current account",
            limit_minor=50_000,
        )
        savings = account_open(
            customer=customer, type=Account.Type.SAVINGS, currency=profile.currency, name="Savings"
        )
        rng = random.Random(f"card-{profile.username}")  # noqa: S311
        Card.objects.create(
            customer=customer,
            account=checking,
            brand="Visa Debit",
            last4=f"{rng.randint(0, 9999):04d}",
            expiry_month=rng.randint(1, 12),
            expiry_year=timezone.localdate().year + 3,
        )
        if profile.history:
            _history(profile, checking, savings)
        else:
            opening = internal_account(purpose="opening_balances", currency=profile.currency)
            journal_entry_post(
                kind=JournalEntry.Kind.OPENING,
                description="Opening balance",
                legs=[
                    Leg(opening, -250_000, "Opening balance"),
                    Leg(checking, 250_000, "Opening balance"),
                ],
            )
    _payees(customers)


def _payees(customers: dict[str, Customer]) -> None:
    alice, bob = customers["alice"], customers["bob"]
    wanted = {
        alice: [
            ("Bob Brennan", _checking(bob).iban, "Dinner"),
            ("Harbour Lettings", EXTERNAL_PAYEES["Harbour Lettings"], "Rent 14 Wharf Rd"),
            ("Mum", EXTERNAL_PAYEES["Mum"], ""),
        ],
        bob: [
            ("Alice Andersen", _checking(alice).iban, ""),
            ("Castle Homes", EXTERNAL_PAYEES["Castle Homes"], "Rent Albion St"),
        ],
    }
    for customer, payees in wanted.items():
        if customer.payees.exists():
            continue
        for name, iban, reference in payees:
            payee_create(customer=customer, name=name, iban=iban, default_reference=reference)
    rent = alice.payees.filter(name="Harbour Lettings").first()
    if rent and not alice.standing_orders.exists():
        today = timezone.localdate()
        first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
        standing_order_create(
            customer=alice,
            from_account_id=_checking(alice).pk,
            payee_id=rent.pk,
            amount="1150.00",
            frequency="monthly",
            first_run_on=first,
            reference="Rent 14 Wharf Rd",
        )


def _checking(customer: Customer) -> Account:
    return customer.accounts.filter(type=Account.Type.CHECKING).order_by("id").first()
