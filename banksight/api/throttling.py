"""API rate limits counted in Redis: an exact rolling window, one round trip per request.

DRF's SimpleRateThrottle keeps a pickled list of every request's timestamp in the cache and
rewrites all of it on each request (a 1000-item list at 1000 an hour). Here each caller has
a Redis sorted set of request times: old entries are trimmed, the new one counted and, if
within the limit, added, in one script (one command and one reply a request; the MULTI
pipeline it replaces parsed six replies).
"""

from __future__ import annotations

import time
import uuid

from django_redis import get_redis_connection
from redis.commands.core import Script
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

# KEYS[1] the caller's set; ARGV: now, period, limit, member. Returns 0 when the request
# is allowed, else the time of the oldest request in the window (it leaves the window
# `period` seconds after that). A refused request is not added: it uses no allowance.
_ROLLING_WINDOW = """
local now, period, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - period)
if redis.call('ZCARD', KEYS[1]) >= limit then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return oldest[2] or tostring(now)
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], period + 1)
return 0
"""


def parse_rate(rate: str) -> tuple[int, int]:
    """'60/minute' -> (60, 60)."""
    count, period = rate.split("/")
    return int(count), _PERIODS[period.strip()[0]]


_rolling_window_script: Script | None = None


def _rolling_window(*, key: str, now: float, period: int, limit: int, member: str):
    """Runs the script by its digest (EVALSHA), loading it again if Redis has lost it."""
    global _rolling_window_script
    redis = get_redis_connection("default")
    if _rolling_window_script is None:
        _rolling_window_script = redis.register_script(_ROLLING_WINDOW)
    return _rolling_window_script(
        keys=[key], args=[f"{now:.6f}", period, limit, member], client=redis
    )


def rate_limit_hit(*, key: str, rate: str) -> float:
    """Counts one use of `key` against `rate` ("3/hour") outside DRF, e.g. in a form view.

    Returns 0.0 when the use is allowed, else the seconds until the next one will be.
    """
    limit, period = parse_rate(rate)
    now = time.time()
    oldest = _rolling_window(
        key=f"banksight:throttle:{key}",
        now=now,
        period=period,
        limit=limit,
        member=f"{now:.6f}:{uuid.uuid4().hex[:8]}",
    )
    return 0.0 if oldest == 0 else max(float(oldest) + period - now, 1.0)


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
        oldest = _rolling_window(
            key=key, now=now, period=self.period, limit=self.limit, member=member
        )
        if oldest == 0:
            return True
        self.wait_seconds = float(oldest) + self.period - now
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
