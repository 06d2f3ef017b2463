from django.apps import AppConfig


class KycConfig(AppConfig):
    """Onboarding, identity, sanctions and risk."""

    name = "apps.kyc"
    label = "kyc"
    verbose_name = "KYC"
