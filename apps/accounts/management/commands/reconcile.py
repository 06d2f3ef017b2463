from django.core.management.base import BaseCommand, CommandError

from apps.accounts.money import format_money
from apps.accounts.selectors.ledger import ledger_balance_drifts, ledger_unbalanced_entries


class Command(BaseCommand):
    help = "Check every cached balance against its postings and every entry's balance."

    def handle(self, *args, **options):
        drifts = ledger_balance_drifts()
        unbalanced = ledger_unbalanced_entries()
        for drift in drifts:
            self.stdout.write(
                f"DRIFT account {drift.account_id} ({drift.account}): cached "
                f"{format_money(drift.cached_minor, drift.currency)}, postings "
                f"{format_money(drift.postings_minor, drift.currency)}"
            )
        for entry in unbalanced:
            off_by = format_money(entry.total_minor, entry.currency)
            self.stdout.write(f"UNBALANCED entry {entry.entry_id}: off by {off_by}")
        if drifts or unbalanced:
            raise CommandError(
                f"Reconciliation failed: {len(drifts)} drifting account(s), "
                f"{len(unbalanced)} unbalanced entr(y/ies)."
            )
        self.stdout.write(self.style.SUCCESS("Ledger reconciled: every balance matches."))
