"""API rate limits counted in Redis: an exact rolling window, one round trip per request.

DRF's SimpleRateThrottle keeps a pickled list of every request's timestamp in the cache and
rewrites all of it on each request (a 1000-item list at 1000 an hour). Here each caller has
a Redis sorted set of request times: old entries are trimmed, the new one added and the
rest counted in one pipeline.
"""

from __future__ import annotations

import time
import uuid

from django_redis import get_redis_connection
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """'60/minute' -> (60, 60)."""
    count, period = rate.split("/")
    return int(count), _PERIODS[period.strip()[0]]


class RedisRollingWindowThrottle(BaseThrottle):
    scope: str = ""

    def __init__(self):
        self.limit, self.period = parse_rate(api_settings.DEFAULT_THROTTLE_RATES[self.scope])
        self.wait_seconds = 0.0

    def ident_for(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        ident = self.ident_for(request)
        if ident is None:
            return True
        now = time.time()
        key = f"banksight:throttle:{self.scope}:{ident}"
        member = f"{now:.6f}:{uuid.uuid4().hex[:8]}"
        redis = get_redis_connection("default")
        pipe = redis.pipeline()
        pipe.zremrangebyscore(key, 0, now - self.period)
        pipe.zadd(key, {member: now})
        pipe.zcard(key)
        pipe.expire(key, self.period + 1)
        count = pipe.execute()[2]
        if count <= self.limit:
            return True
        redis.zrem(key, member)  # a refused request does not use up the allowance
        oldest = redis.zrange(key, 0, 0, withscores=True)
        self.wait_seconds = (oldest[0][1] + self.period - now) if oldest else self.period
        return False

    def wait(self) -> float:
        return max(self.wait_seconds, 1.0)


class AnonRateThrottle(RedisRollingWindowThrottle):
    """Callers without credentials, per client IP."""

    scope = "anon"

    def ident_for(self, request):
        if request.user and request.user.is_authenticated:
            return None
        return self.get_ident(request)


class UserRateThrottle(RedisRollingWindowThrottle):
    """Signed-in callers, per user."""

    scope = "user"

    def ident_for(self, request):
        if request.user and request.user.is_authenticated:
            return str(request.user.pk)
        return None
