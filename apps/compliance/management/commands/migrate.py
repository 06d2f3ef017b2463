"""`manage.py migrate`, connected as the schema owner (DATABASE_OWNER_URL).

The application's role (DATABASE_URL) may not create or alter tables. After the migrations,
post_migrate grants it its privileges (apps/compliance/privileges.py).
"""

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands import migrate

from banksight.dbroles import connect_as_owner


class Command(migrate.Command):
    help = migrate.Command.help + " Connects as the schema owner (DATABASE_OWNER_URL)."

    def handle(self, *args, **options):
        if settings.PRODUCTION and not settings.DATABASE_OWNER:
            raise CommandError(
                "DATABASE_OWNER_URL is required to migrate in production: the tables belong "
                "to the owner role, not to the application's (DATABASE_URL)."
            )
        with connect_as_owner(options["database"]):
            return super().handle(*args, **options)
