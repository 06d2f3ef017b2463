"""The hook run before a payment completes. The fraud app plugs its rules in here.

Each hook in settings.PAYMENT_SCREENING_HOOKS takes the payment (saved, not yet executed,
its accounts locked) and returns a ScreeningDecision. The first hold or reject wins.
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
