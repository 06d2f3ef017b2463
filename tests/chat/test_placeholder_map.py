"""The conversation's placeholder map as the worker grows it (apps/chat/assistant.py)."""

from __future__ import annotations

import pytest

from apps.chat.assistant import _mask_with_conversation_map
from apps.chat.models import Conversation
from apps.compliance.pii import PlaceholderMap

pytestmark = pytest.mark.django_db

CARD = "4111 1111 1111 1111"
OTHER_CARD = "5555 5555 5555 4444"


def test_a_text_without_new_values_leaves_the_map_as_it_was(conversation):
    _mask_with_conversation_map(conversation, f"my card is {CARD}", known={})
    saved = Conversation.objects.get(pk=conversation.pk).pii_map_ciphertext
    masked = _mask_with_conversation_map(conversation, f"is {CARD} blocked?", known={})
    assert CARD not in masked
    assert "[CREDIT_CARD_1]" in masked
    assert Conversation.objects.get(pk=conversation.pk).pii_map_ciphertext == saved


def test_placeholders_added_meanwhile_by_another_message_are_kept(conversation):
    # The worker holds the conversation as loaded before another message added a card.
    stale = Conversation.objects.get(pk=conversation.pk)
    other = Conversation.objects.get(pk=conversation.pk)
    first = _mask_with_conversation_map(other, f"my card is {CARD}", known={})
    masked = _mask_with_conversation_map(stale, f"and {OTHER_CARD} or {CARD}?", known={})

    mapping = PlaceholderMap(Conversation.objects.get(pk=conversation.pk).pii_mapping)
    assert len(mapping) == 2
    card = mapping.placeholder_for("CREDIT_CARD", CARD)
    other_card = mapping.placeholder_for("CREDIT_CARD", OTHER_CARD)
    assert card != other_card
    assert card in first
    assert masked == f"and {other_card} or {card}?"  # the first card keeps its placeholder
