"""Writes of the fraud app: disputes."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from apps.accounts.errors import NotFound
from apps.accounts.models import Customer, Posting, User
from apps.fraud.errors import DisputeExists, DisputeInvalid
from apps.fraud.models import Dispute

DESCRIPTION_MAX = 2000


@transaction.atomic
def dispute_open(
    *,
    customer: Customer,
    posting_id: int,
    reason: str,
    description: str = "",
    opened_by: User,
) -> Dispute:
    """Open a dispute of one of the customer's own debits.

    Someone else's transaction and a missing one are both NotFound. A transaction with an
    open (or investigating) dispute gets DisputeExists; the partial unique constraint
    decides when two requests race. Not durable: the assistant's confirmation runs it
    inside its own transaction, holding the proposal's lock.
    """
    if customer is None or isinstance(posting_id, bool) or not isinstance(posting_id, int):
        raise NotFound()
    posting = (
        Posting.objects.select_related("account")
        .filter(pk=posting_id, account__customer=customer)
        .first()
    )
    if posting is None:
        raise NotFound()
    errors: dict[str, list[str]] = {}
    if reason not in Dispute.Reason.values:
        errors["reason"] = ["Choose one of the reasons."]
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        errors["description"] = [f"Use at most {DESCRIPTION_MAX} characters."]
    if posting.amount_minor > 0:
        errors["posting"] = ["Only money paid out of your account can be disputed."]
    if errors:
        raise DisputeInvalid(fields=errors)
    if Dispute.objects.filter(posting=posting, status__in=Dispute.ACTIVE_STATUSES).exists():
        raise DisputeExists()
    try:
        with transaction.atomic():
            return Dispute.objects.create(
                customer=customer,
                posting=posting,
                reason=reason,
                description=description,
                opened_by=opened_by,
            )
    except IntegrityError as error:
        if "fraud_dispute_one_active_per_posting" not in str(error):
            raise
        raise DisputeExists() from error
