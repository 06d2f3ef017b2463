from django.apps import AppConfig


class FraudConfig(AppConfig):
    """Scoring, alerts, cases and disputes."""

    name = "apps.fraud"
    label = "fraud"
    verbose_name = "Fraud"
