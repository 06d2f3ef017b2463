from __future__ import annotations

from django.db import transaction

from apps.accounts.errors import InvalidState
from apps.accounts.models import Card, User


@transaction.atomic
def card_freeze(*, card: Card, actor: User) -> Card:
    card = Card.objects.select_for_update().get(pk=card.pk)
    if card.status == Card.Status.CANCELLED:
        raise InvalidState("A cancelled card cannot be frozen.")
    if card.status != Card.Status.FROZEN:
        card.status = Card.Status.FROZEN
        card.save(update_fields=["status"])
    return card


@transaction.atomic
def card_unfreeze(*, card: Card, actor: User) -> Card:
    card = Card.objects.select_for_update().get(pk=card.pk)
    if card.status == Card.Status.CANCELLED:
        raise InvalidState("A cancelled card cannot be unfrozen.")
    if card.status != Card.Status.ACTIVE:
        card.status = Card.Status.ACTIVE
        card.save(update_fields=["status"])
    return card
