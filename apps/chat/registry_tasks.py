"""Celery tasks of the model registry.

Celery autodiscovers `tasks` modules only: `apps/chat/tasks.py` imports this module, so
workers register these tasks too.
"""

from __future__ import annotations

from celery import shared_task


# A run calls every enabled backend once per prompt: far longer than the default limits.
@shared_task(soft_time_limit=900, time_limit=960, acks_late=True)
def benchmark_run_task(*, run_id: str) -> str | None:
    """Run one queued benchmark (idempotent: a run that already started is left alone)."""
    from apps.chat.registry import benchmark_run_execute

    run = benchmark_run_execute(run_id=run_id)
    return run.status if run else None


__all__ = ["benchmark_run_task"]
