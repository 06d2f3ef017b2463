"""Chat text is personal data: encrypted at rest, and rotated with the other keys."""

from __future__ import annotations

import base64
import secrets
from io import StringIO

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from apps.accounts.crypto import key_id_of
from apps.chat.models import Conversation, Message
from apps.chat.services import conversation_create
from apps.compliance.pii import PlaceholderMap
from tests.factories import customer_make

CARD = "4111 1111 1111 1111"


def _raw(table: str, column: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def _conversation_with_a_card_number():
    conversation = conversation_create(customer=customer_make(username="enc"))
    mapping = PlaceholderMap()
    placeholder = mapping.placeholder_for("CREDIT_CARD", CARD)
    conversation.pii_mapping = mapping.to_dict()
    conversation.save()
    message = Message(conversation=conversation, role="customer", status="received")
    message.text = f"my card {CARD} was stolen"
    message.masked_text = f"my card {placeholder} was stolen"
    message.save()
    return conversation, message


def test_message_text_and_the_placeholder_map_are_not_stored_in_the_clear(db):
    conversation, message = _conversation_with_a_card_number()
    stored_text = _raw("chat_message", "text_ciphertext", message.pk)
    stored_map = _raw("chat_conversation", "pii_map_ciphertext", conversation.pk)
    assert CARD not in stored_text
    assert CARD not in stored_map
    assert "4111" not in stored_text + stored_map
    assert Message.objects.get(pk=message.pk).text == f"my card {CARD} was stolen"


def test_key_rotation_covers_chat_messages_and_placeholder_maps(db):
    conversation, message = _conversation_with_a_card_number()
    new_key = f"k9:{base64.b64encode(secrets.token_bytes(32)).decode()}"
    keys = f"{settings.FIELD_ENCRYPTION_KEYS},{new_key}"
    with override_settings(FIELD_ENCRYPTION_KEYS=keys, FIELD_ENCRYPTION_KEY_ID="k9"):
        out = StringIO()
        call_command("rotate_encryption_key", stdout=out)
        assert "Done: 1 message(s) now use key 'k9'" in out.getvalue()
        assert "Done: 1 conversation(s) now use key 'k9'" in out.getvalue()
    assert key_id_of(_raw("chat_message", "text_ciphertext", message.pk)) == "k9"
    # With only the new key, the chat still reads back.
    with override_settings(FIELD_ENCRYPTION_KEYS=new_key, FIELD_ENCRYPTION_KEY_ID="k9"):
        assert Message.objects.get(pk=message.pk).text.startswith("my card 4111")
        restored = PlaceholderMap(Conversation.objects.get(pk=conversation.pk).pii_mapping)
        assert CARD in restored.values().values()
