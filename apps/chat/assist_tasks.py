"""Celery task of agent assist: the handoff summary, drafted when a conversation is escalated.

Celery autodiscovers `tasks` modules only: `apps/chat/tasks.py` imports this module, so
workers register the task too.
"""

from __future__ import annotations

from celery import shared_task

from apps.compliance.audit import SystemTask
from banksight.outages import SERVICE_ERRORS


# The summary is the bank's own work: it runs as the system actor (audited save).
@shared_task(
    bind=True,
    base=SystemTask,
    acks_late=True,
    autoretry_for=SERVICE_ERRORS,  # redis-py's and kombu's errors: not the builtin ones
    retry_backoff=True,
    retry_backoff_max=30,
    max_retries=5,
    # One model call, bounded by the backend's request timeout (60 s by default).
    soft_time_limit=150,
    time_limit=180,
)
def handoff_summary_task(self, conversation_id: str) -> None:
    """Draft and save the conversation's handoff summary (idempotent: recomputed)."""
    from apps.chat.assist import handoff_summary_store

    handoff_summary_store(conversation_id=str(conversation_id))


__all__ = ["handoff_summary_task"]
