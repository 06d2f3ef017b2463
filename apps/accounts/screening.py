"""The hook run before a payment completes. The fraud app plugs its rules in here.

Each hook in settings.PAYMENT_SCREENING_HOOKS takes the payment (not yet saved, inside
the payment's transaction, before the accounts' rows are locked: it sees the payments
committed before this one) and returns a ScreeningDecision. The first hold or reject wins.
A rule that must count payments racing this one takes its own lock (for example
pg_advisory_xact_lock on the customer's id).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.utils.module_loading import import_string


class Outcome(StrEnum):
    ALLOW = "allow"
    HOLD = "hold"
    REJECT = "reject"


@dataclass(frozen=True)
class ScreeningDecision:
    outcome: Outcome
    reason: str = ""


ALLOW = ScreeningDecision(Outcome.ALLOW)


def allow_all(payment) -> ScreeningDecision:
    """Today's rule: every payment may complete."""
    return ALLOW


def payment_screen(payment) -> ScreeningDecision:
    for dotted in settings.PAYMENT_SCREENING_HOOKS:
        decision = import_string(dotted)(payment)
        if decision.outcome is not Outcome.ALLOW:
            return decision
    return ALLOW
