"""The Celery application: broker and results in Redis, tasks discovered in apps/."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "banksight.settings")

app = Celery("banksight")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.before_task_publish.connect
def _attach_request_id(headers=None, **kwargs):
    """Carry the web request's id to the task, so its logs join the request's."""
    from banksight.requestid import request_id_var

    request_id = request_id_var.get()
    if headers is not None and request_id and "request_id" not in headers:
        headers["request_id"] = request_id


@signals.task_prerun.connect
def _restore_request_id(task=None, **kwargs):
    from banksight.requestid import new_request_id, request_id_var

    request_id = getattr(task.request, "request_id", None) if task else None
    request_id_var.set(new_request_id(request_id))


@signals.task_prerun.connect
def _forget_content_types_between_tests(**kwargs):
    """The test runner empties and refills django_content_type between tests, giving the
    rows new ids; a long-lived test worker must not keep the old ones in its cache."""
    from django.conf import settings

    if settings.TESTING:
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.clear_cache()


@signals.setup_logging.connect
def _use_django_logging(**kwargs):
    """Keep the JSON log format of settings.LOGGING in the worker and beat."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@signals.worker_process_init.connect
def _keep_database_pools_between_tasks(**kwargs):
    """Celery's Django fixup closes a prefork child's psycopg pool before and after every
    task (celery#10554), so each task opened a new PostgreSQL connection (~15 ms). Treat
    a task like a web request instead: its connection goes back to the pool."""
    from celery.fixups.django import DjangoFixup

    for fixup in getattr(app, "_fixups", ()):
        if isinstance(fixup, DjangoFixup):
            signals.task_prerun.disconnect(fixup.worker_fixup.on_task_prerun)
            signals.task_postrun.disconnect(fixup.worker_fixup.on_task_postrun)
            signals.task_prerun.connect(_connections_like_a_request, weak=False)
            signals.task_postrun.connect(_connections_like_a_request, weak=False)


def _connections_like_a_request(**kwargs):
    from django.db import close_old_connections

    close_old_connections()
