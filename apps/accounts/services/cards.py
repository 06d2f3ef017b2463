from __future__ import annotations

from django.db import transaction

from apps.accounts.errors import InvalidState
from apps.accounts.models import Card, User


@transaction.atomic
def _card_status_set(*, card: Card, status: Card.Status) -> Card:
    card = Card.objects.select_for_update().get(pk=card.pk)
    if card.status == Card.Status.CANCELLED:
        raise InvalidState("This card is cancelled and cannot be changed.")
    if card.status != status:  # freezing a frozen card is not an error: the result is the same
        card.status = status
        card.save(update_fields=["status"])
    return card


def card_freeze(*, card: Card, actor: User) -> Card:
    return _card_status_set(card=card, status=Card.Status.FROZEN)


def card_unfreeze(*, card: Card, actor: User) -> Card:
    return _card_status_set(card=card, status=Card.Status.ACTIVE)
