from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.demo import demo_people_seed
from apps.accounts.demo_banking import demo_banking_seed
from apps.chat.canned import canned_responses_demo_seed
from apps.chat.demo import conversations_demo_seed


class Command(BaseCommand):
    help = (
        "Create the demo customers (with accounts and history) and staff. Idempotent; "
        "refused in production."
    )

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo is refused under production settings.")
        users = demo_people_seed()
        demo_banking_seed()
        canned_responses_demo_seed()
        conversations_demo_seed()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {len(users)} people."))
