"""Ledger checks for `manage.py reconcile`."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Sum

from apps.accounts.models import Account, Posting


@dataclass(frozen=True)
class BalanceDrift:
    account_id: int
    account: str
    currency: str
    cached_minor: int
    postings_minor: int

    @property
    def difference_minor(self) -> int:
        return self.cached_minor - self.postings_minor


@dataclass(frozen=True)
class UnbalancedEntry:
    entry_id: int
    currency: str
    total_minor: int


def ledger_balance_drifts() -> list[BalanceDrift]:
    """Accounts whose cached balance differs from the sum of their postings."""
    sums = dict(
        Posting.objects.values("account")
        .annotate(total=Sum("amount_minor"))
        .values_list("account", "total")
    )
    drifts = []
    for account in Account.objects.order_by("pk").iterator():
        total = sums.get(account.pk, 0)
        if account.balance_minor != total:
            drifts.append(
                BalanceDrift(
                    account.pk, str(account), account.currency, account.balance_minor, total
                )
            )
    return drifts


def ledger_unbalanced_entries() -> list[UnbalancedEntry]:
    """Entries whose postings do not sum to zero per currency (PostgreSQL prevents these)."""
    rows = (
        Posting.objects.values("entry", "currency")
        .annotate(total=Sum("amount_minor"))
        .exclude(total=0)
        .values_list("entry", "currency", "total")
    )
    return [UnbalancedEntry(*row) for row in rows]
