"""Celery tasks: thin wrappers that load by id and call a service."""

from celery import shared_task
from django.core import management

from apps.compliance.audit import ActorTask, SystemTask


@shared_task(base=ActorTask, bind=True, max_retries=3, default_retry_delay=10)
def user_deactivate_task(self, *, user_id: int, actor_id: int) -> bool:
    from apps.accounts.models import User
    from apps.accounts.services import user_deactivate

    user = User.objects.filter(pk=user_id).first()
    if user is None or not user.is_active:
        return False  # redelivered or already done
    user_deactivate(user=user)
    return True


@shared_task
def sessions_clear_expired_task() -> None:
    management.call_command("clearsessions")


@shared_task(base=SystemTask)
def payments_settle_external_task() -> int:
    """Beat: settle payments to other banks that have been pending long enough."""
    from apps.accounts.services.payments import payments_settle_external

    return payments_settle_external()


@shared_task(base=SystemTask)
def standing_orders_run_due_task() -> int:
    """Beat: pay the standing orders that are due today (idempotent per order and date)."""
    from apps.accounts.services.standing_orders import standing_orders_run_due

    return standing_orders_run_due()
