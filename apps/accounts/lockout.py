"""django-axes with two limits: per username at one address, and per address.

axes counts failures for each set in AXES_LOCKOUT_PARAMETERS ([username + address],
[address]) and compares the largest count with one limit. Here each set has its own:
AXES_FAILURE_LIMIT for one username at one address, AXES_ADDRESS_FAILURE_LIMIT for all
usernames from one address (an office or a phone network shares one). The address count is
scaled onto AXES_FAILURE_LIMIT, so axes' own comparisons (before and after each attempt)
still decide.

A successful sign-in clears that username's failures at that address only: axes would clear
every set, letting an attacker with one working password reset the address's count.
"""

from __future__ import annotations

from axes.conf import settings
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_failure_limit, get_lockout_parameters
from axes.models import AccessAttempt
from django.db.models import Sum


class BankSightAxesHandler(AxesDatabaseHandler):
    def get_failures(self, request, credentials: dict | None = None) -> int:
        limit = get_failure_limit(request, credentials)
        parameters = get_lockout_parameters(request, credentials)
        attempts_list = self.get_user_attempts(request, credentials)
        worst = 0
        for parameter, attempts in zip(parameters, attempts_list, strict=True):
            count = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            if parameter == "ip_address":
                # Locked at AXES_ADDRESS_FAILURE_LIMIT: scaled so that it meets `limit` then.
                count = count * limit // settings.AXES_ADDRESS_FAILURE_LIMIT
            worst = max(worst, count)
        return worst

    def reset_user_attempts(self, request, credentials: dict | None = None) -> int:
        username = get_client_username(request, credentials)
        count, _ = AccessAttempt.objects.filter(
            username=username, ip_address=request.axes_ip_address
        ).delete()
        return count
