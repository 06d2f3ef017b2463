"""Celery tasks of the chat: thin wrappers around apps.chat.assistant."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from apps.compliance.audit import ActorTask


@shared_task(
    base=ActorTask,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError, ConnectionError),
    retry_backoff=True,
    retry_backoff_max=30,
    max_retries=5,
)
def message_process_task(message_id: int, *, actor_id: int) -> None:
    """Mask, guard and answer one customer message (idempotent per message id)."""
    from apps.chat.assistant import message_process

    message_process(message_id=message_id)
