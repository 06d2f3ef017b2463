"""The back office's view of one customer (the "customer 360"): reads and the few writes.

Personal data leaves this module masked. The one way to a clear value is
`customer_pii_reveal`, which takes a typed reason and writes a SecurityEvent (field and
reason, never the value) before it returns the value; the event itself is also in the
audit trail, since SecurityEvent is an audited model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q, QuerySet

from apps.accounts.errors import NotFound
from apps.accounts.models import Account, Card, Customer, Posting, User
from apps.compliance.audit import audit_actor_bind
from apps.compliance.models import SecurityEvent
from apps.compliance.services import security_event_record
from banksight.errors import BankError

DOT = "•"
REVEAL_REASON_MIN_LENGTH = 10
REVEAL_REASON_MAX_LENGTH = 500
RECENT_TRANSACTIONS = 20
RECENT_CONVERSATIONS = 20
SEARCH_LIMIT = 50

# Field name -> label, in the order the profile shows them. Each one can be revealed.
REVEALABLE_FIELDS: dict[str, str] = {
    "ssn": "Social security number",
    "national_id": "National id",
    "phone": "Phone",
    "email": "Email",
    "date_of_birth": "Date of birth",
    "address": "Address",
}


class RevealInvalid(BankError):
    code = "invalid"
    default_message = "Give a reason for revealing this value."


# --- Masking -----------------------------------------------------------------------------


def mask_ssn(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return f"{DOT * 3}-{DOT * 2}-{digits[-4:]}" if digits else ""


def mask_tail(value: str, *, keep: int) -> str:
    """Every letter and digit but the last `keep` become dots; separators stay."""
    if not value:
        return ""
    shown = 0
    out = []
    for char in reversed(value):
        if char.isalnum():
            out.append(char if shown < keep else DOT)
            shown += 1
        else:
            out.append(char)
    return "".join(reversed(out))


def mask_email(value: str) -> str:
    if not value:
        return ""
    local, _, domain = value.partition("@")
    return f"{local[:1]}{DOT * 4}@{domain}" if domain else DOT * 6


def mask_address(customer: Customer) -> str:
    """The street is hidden; the town and the postcode's outward part stay."""
    if not (customer.address_line or customer.city or customer.postcode):
        return ""
    outward = customer.postcode.split()[0] if " " in customer.postcode.strip() else ""
    postcode = f"{outward} {DOT * 3}" if outward else DOT * 3 if customer.postcode else ""
    parts = [DOT * 6 if customer.address_line else "", customer.city, postcode]
    return ", ".join(part for part in parts if part) + f" ({customer.country})"


def address_full(customer: Customer) -> str:
    parts = [customer.address_line, customer.city, customer.postcode]
    return ", ".join(part for part in parts if part) + f" ({customer.country})"


def _clear_value(customer: Customer, name: str) -> str:
    if name == "date_of_birth":
        return customer.date_of_birth.isoformat() if customer.date_of_birth else ""
    if name == "address":
        return address_full(customer) if customer.address_line or customer.city else ""
    return getattr(customer, name) or ""


def _masked_value(customer: Customer, name: str) -> str:
    if name == "ssn":
        return mask_ssn(customer.ssn or "")
    if name == "national_id":
        return mask_tail(customer.national_id or "", keep=2)
    if name == "phone":
        return mask_tail(customer.phone or "", keep=3)
    if name == "email":
        return mask_email(customer.email)
    if name == "date_of_birth":
        dob = customer.date_of_birth
        return f"{DOT * 2}/{DOT * 2}/{dob.year}" if dob else ""
    return mask_address(customer)


# --- Reads -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaskedField:
    name: str
    label: str
    masked: str  # "" when the customer has no such value: nothing to reveal


@dataclass
class Customer360:
    customer: Customer
    profile: list[MaskedField]
    accounts: list[Account]
    transactions: list[Posting]
    cards: list[Card]
    conversations: list = field(default_factory=list)


def customer_search(*, query: str) -> QuerySet[Customer]:
    """Customers by username, name, or account number (all eight digits or the last four).

    Never by SSN, national id or phone: the back office does not look people up by those.
    """
    query = " ".join(query.split())[:100]
    customers = Customer.objects.select_related("user").order_by("last_name", "first_name", "id")
    if len(query) < 2:
        return customers.none()
    if query.isdigit():
        if len(query) == 4:
            return customers.filter(accounts__number__endswith=query).distinct()[:SEARCH_LIMIT]
        if len(query) == 8:
            return customers.filter(accounts__number=query).distinct()[:SEARCH_LIMIT]
        return customers.none()
    for term in query.split():
        customers = customers.filter(
            Q(user__username__icontains=term)
            | Q(first_name__icontains=term)
            | Q(last_name__icontains=term)
        )
    return customers[:SEARCH_LIMIT]


def customer_get(*, customer_id) -> Customer:
    try:
        number = int(customer_id)
    except (TypeError, ValueError) as error:
        raise NotFound() from error
    customer = Customer.objects.select_related("user").filter(pk=number).first()
    if customer is None:
        raise NotFound()
    return customer


def customer_profile_masked(*, customer: Customer) -> list[MaskedField]:
    return [
        MaskedField(name=name, label=label, masked=_masked_value(customer, name))
        for name, label in REVEALABLE_FIELDS.items()
    ]


def customer_360(*, customer: Customer) -> Customer360:
    from apps.chat.models import Conversation

    accounts = list(customer.accounts.order_by("id"))
    transactions = list(
        Posting.objects.filter(account__customer=customer)
        .select_related("account")
        .order_by("-booked_at", "-id")[:RECENT_TRANSACTIONS]
    )
    cards = list(customer.cards.select_related("account").order_by("id"))
    conversations = list(
        Conversation.objects.filter(customer=customer)
        .select_related("assigned_agent")
        .order_by("-updated_at")[:RECENT_CONVERSATIONS]
    )
    return Customer360(
        customer=customer,
        profile=customer_profile_masked(customer=customer),
        accounts=accounts,
        transactions=transactions,
        cards=cards,
        conversations=conversations,
    )


# --- Writes ------------------------------------------------------------------------------


def reveal_reason_check(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if len(reason) < REVEAL_REASON_MIN_LENGTH:
        raise RevealInvalid(
            fields={
                "reason": [f"Write a reason of at least {REVEAL_REASON_MIN_LENGTH} characters."]
            }
        )
    if len(reason) > REVEAL_REASON_MAX_LENGTH:
        raise RevealInvalid(
            fields={"reason": [f"Use at most {REVEAL_REASON_MAX_LENGTH} characters."]}
        )
    return reason


@transaction.atomic
def customer_pii_reveal(
    *, customer: Customer, field_name: str, reason: str, actor: User, ip_address: str | None = None
) -> str:
    """The clear value of one masked field, after recording who asked and why."""
    if field_name not in REVEALABLE_FIELDS:
        raise RevealInvalid("There is no such field to reveal.")
    reason = reveal_reason_check(reason)
    audit_actor_bind(actor=actor)
    security_event_record(
        kind=SecurityEvent.Kind.PII_REVEALED,
        username=customer.user.username,
        ip_address=ip_address,
        actor=actor,
        details={"customer_id": customer.pk, "field": field_name, "reason": reason},
    )
    return _clear_value(customer, field_name)


@transaction.atomic
def customer_vulnerable_set(*, customer: Customer, vulnerable: bool, actor: User) -> Customer:
    """Flag or clear a customer's vulnerable circumstances; the change is in the audit trail.

    The flag raises the priority of their next escalation (apps.chat.handoff); a
    conversation already waiting keeps the priority it entered the queue with.
    """
    audit_actor_bind(actor=actor)
    locked = Customer.objects.select_for_update().get(pk=customer.pk)
    if locked.vulnerable != vulnerable:
        locked.vulnerable = vulnerable
        locked.save(update_fields=["vulnerable"])
    customer.vulnerable = vulnerable
    return locked
