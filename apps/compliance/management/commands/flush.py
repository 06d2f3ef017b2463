"""`manage.py flush`, connected as the schema owner (DATABASE_OWNER_URL).

Emptying the tables is TRUNCATE, which the application's role may not do to the audit trail.
pytest-django runs this between transactional tests.
"""

from django.core.management.commands import flush

from banksight.dbroles import connect_as_owner


class Command(flush.Command):
    help = flush.Command.help + " Connects as the schema owner (DATABASE_OWNER_URL)."

    def handle(self, **options):
        with connect_as_owner(options["database"]):
            return super().handle(**options)
