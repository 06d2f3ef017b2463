"""Celery tasks of the chat: thin wrappers around apps.chat.assistant."""

from __future__ import annotations

from celery import shared_task, signals
from django.db import InterfaceError, OperationalError

from apps.chat.assist_tasks import handoff_summary_task  # noqa: F401 - registers the task
from apps.chat.registry_tasks import benchmark_run_task  # noqa: F401 - registers the task
from apps.compliance.audit import ActorTask, SystemTask


@shared_task(
    bind=True,
    base=ActorTask,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError, ConnectionError),
    retry_backoff=True,
    retry_backoff_max=30,
    max_retries=5,
)
def message_process_task(self, message_id: int, *, actor_id: int) -> None:
    """Mask, guard and answer one customer message (idempotent per message id)."""
    from apps.chat.assistant import LOCK_SECONDS, AnswerBusy, message_process

    try:
        message_process(message_id=message_id)
    except AnswerBusy as busy:
        # A dead worker's lock lapses within LOCK_SECONDS; a live one finishes the answer.
        raise self.retry(exc=busy, countdown=LOCK_SECONDS / 3, max_retries=20) from busy


@shared_task(
    base=SystemTask,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def handoff_assign_waiting_task() -> int:
    """Give waiting conversations to available agents with room (safe to run any time)."""
    from apps.chat.handoff import queue_assign_waiting

    return len(queue_assign_waiting())


@signals.worker_init.connect
def _load_the_pii_analyzer(**kwargs) -> None:
    """Load spaCy and the recognizers once, before the first message (prefork children
    inherit them)."""
    from apps.compliance.pii import pii_warm_up

    pii_warm_up()


@signals.worker_init.connect
def _keep_the_channel_layer_connected(**kwargs) -> None:
    """Broadcasts (every streamed token) reuse one Redis connection per worker process."""
    from apps.chat.events import broadcast_loop_keep

    broadcast_loop_keep()
