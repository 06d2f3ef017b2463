"""The channel layer is Redis: a message sent to a group by one process reaches another."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

SEND_FROM_ANOTHER_PROCESS = """
import django, sys
django.setup()
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
async_to_sync(get_channel_layer().group_send)(sys.argv[1], {"type": "note", "text": "hello"})
"""


@pytest.mark.django_db
def test_a_group_message_from_another_process_arrives():
    layer = get_channel_layer()
    assert type(layer).__module__.startswith("channels_redis")
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("healthcheck", channel)
    env_settings = {
        "DJANGO_SETTINGS_MODULE": "banksight.settings_test",
        "DATABASE_URL": settings.DATABASE_URL,
        "REDIS_URL": settings.REDIS_URL,
    }
    subprocess.run(
        [sys.executable, "-c", SEND_FROM_ANOTHER_PROCESS, "healthcheck"],
        env={**os.environ, **env_settings},
        check=True,
        timeout=60,
        cwd=settings.BASE_DIR,
    )
    message = async_to_sync(layer.receive)(channel)
    assert message == {"type": "note", "text": "hello"}
