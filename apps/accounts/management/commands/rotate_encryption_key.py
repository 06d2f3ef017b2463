from django.apps import apps
from django.core.management.base import BaseCommand

from apps.accounts.crypto import keyring
from apps.accounts.services.customers import encrypted_rows_reencrypt_batch

# Every model with encrypted attributes, and those attributes.
ENCRYPTED = {
    "accounts.Customer": ("ssn", "national_id", "phone"),
    "chat.Conversation": ("pii_map",),
    "chat.Message": ("text",),
}


class Command(BaseCommand):
    help = (
        "Re-encrypt personal data with the active key (FIELD_ENCRYPTION_KEY_ID), in batches. "
        "Safe to interrupt and to run again; keep old keys in FIELD_ENCRYPTION_KEYS until it "
        "reports that nothing is left."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args, batch_size, **options):
        for dotted, fields in ENCRYPTED.items():
            model = apps.get_model(dotted)
            noun = f"{model._meta.verbose_name.lower()}(s)"
            total = 0
            while done := encrypted_rows_reencrypt_batch(
                model=model, fields=fields, batch_size=batch_size
            ):
                total += done
                self.stdout.write(f"re-encrypted {total} {noun} so far")
            self.stdout.write(
                self.style.SUCCESS(f"Done: {total} {noun} now use key {keyring().active!r}.")
            )
