"""Banking pages of the customer portal, mounted at / by apps.accounts.urls."""

urlpatterns: list = []
