from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    """People (users, roles, MFA) and, later, customers, accounts, ledger, payments, cards."""

    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Groups and their permissions are derived from code. They are synced after every
        # migrate and after the test runner's flushes, once the last app's permissions exist.
        post_migrate.connect(_sync_roles, dispatch_uid="accounts.roles_sync")
        from apps.accounts.session_lifetime import signals_connect

        signals_connect()  # session times and the per-user list of sessions, at sign-in


def _sync_roles(sender, **kwargs) -> None:
    if sender.label != list(apps.get_app_configs())[-1].label:
        return
    from apps.accounts.roles import roles_sync

    roles_sync(using=kwargs.get("using", "default"))
