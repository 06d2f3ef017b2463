"""Test settings: the real settings with DJANGO_ENV=test.

Tests use their own private PostgreSQL and Redis under `.var/test/` (or DATABASE_URL /
REDIS_URL when set), never the development servers of `make run`.
"""

import os

os.environ["DJANGO_ENV"] = "test"

from banksight.settings import *  # noqa: F403
