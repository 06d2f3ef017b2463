"""Celery tasks of the chat: thin wrappers around apps.chat.assistant."""

from __future__ import annotations

import logging

from celery import shared_task, signals

from apps.chat.assist_tasks import handoff_summary_task  # noqa: F401 - registers the task
from apps.chat.registry_tasks import benchmark_run_task  # noqa: F401 - registers the task
from apps.compliance.audit import ActorTask, SystemTask
from banksight.outages import SERVICE_ERRORS, services_wait

logger = logging.getLogger(__name__)

# How long an answer in progress waits in its worker for PostgreSQL or Redis to come back
# before it gives up to Celery's retry (which needs the broker, i.e. Redis, up again).
# Within the task's soft time limit (CELERY_TASK_SOFT_TIME_LIMIT, 100 s) with room for the
# answer itself.
OUTAGE_WAIT_SECONDS = 45
OUTAGE_RERUNS = 3


@shared_task(
    bind=True,
    base=ActorTask,
    acks_late=True,
    autoretry_for=SERVICE_ERRORS,
    retry_backoff=True,
    retry_backoff_max=30,
    max_retries=5,
)
def message_process_task(self, message_id: int, *, actor_id: int) -> None:
    """Mask, guard and answer one customer message (idempotent per message id).

    A Redis or PostgreSQL outage mid-answer is waited out here, in the worker that holds
    the task: a restarted Redis without persistence has lost the broker's copy of the
    task, so a retry through the broker could lose the question. Once both answer again
    the message is processed again from the start: the same answer row (one per
    question) is streamed again and saved once.
    """
    from apps.chat.assistant import LOCK_SECONDS, AnswerBusy, message_process

    for rerun in range(OUTAGE_RERUNS + 1):
        try:
            message_process(message_id=message_id)
        except AnswerBusy as busy:
            # A dead worker's lock lapses within LOCK_SECONDS; a live one finishes the answer.
            raise self.retry(exc=busy, countdown=LOCK_SECONDS / 3, max_retries=20) from busy
        except SERVICE_ERRORS as error:
            logger.warning(
                "chat answer interrupted by a service outage; waiting for it to come back",
                extra={"message_id": message_id, "error": f"{type(error).__name__}: {error}"},
            )
            if rerun == OUTAGE_RERUNS or not services_wait(seconds=OUTAGE_WAIT_SECONDS):
                raise  # autoretry_for: Celery retries later through the broker
            logger.warning(
                "services are back; answering the message again", extra={"message_id": message_id}
            )
        else:
            return


@shared_task(
    base=SystemTask,
    acks_late=True,
    autoretry_for=SERVICE_ERRORS,
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
