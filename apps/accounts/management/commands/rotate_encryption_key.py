from django.core.management.base import BaseCommand

from apps.accounts.crypto import keyring
from apps.accounts.services.customers import customers_reencrypt_batch


class Command(BaseCommand):
    help = (
        "Re-encrypt personal data with the active key (FIELD_ENCRYPTION_KEY_ID), in batches. "
        "Safe to interrupt and to run again; keep old keys in FIELD_ENCRYPTION_KEYS until it "
        "reports that nothing is left."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args, batch_size, **options):
        total = 0
        while done := customers_reencrypt_batch(batch_size=batch_size):
            total += done
            self.stdout.write(f"re-encrypted {total} customer(s) so far")
        self.stdout.write(
            self.style.SUCCESS(f"Done: {total} customer(s) now use key {keyring().active!r}.")
        )
