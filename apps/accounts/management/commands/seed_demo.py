from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.demo import demo_people_seed


class Command(BaseCommand):
    help = "Create the demo customers and staff (idempotent). Refused in production."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo is refused under production settings.")
        users = demo_people_seed()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {len(users)} people."))
