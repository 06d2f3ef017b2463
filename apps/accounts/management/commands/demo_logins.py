import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.demo import demo_logins


class Command(BaseCommand):
    help = "Print the demo logins as JSON: username, role, password, TOTP secret."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("demo_logins is refused under production settings.")
        self.stdout.write(json.dumps(demo_logins(), indent=2))
